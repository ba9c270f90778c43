# The staff workspace's words (Chinese): the queue, tickets, devices, search and ticket titles,
# for support technicians. Every message here is in every language (a test says so); ids
# start with `staff-` (pages) or `title-` (ticket titles made from a finding's evidence).

staff-language = 语言
staff-language-browser = 跟随浏览器
staff-language-unknown = “{ $value }”不是 Firstline 支持的语言：请选择 English、中文、Polski 或 Ελληνικά。
staff-time-zone = 时区
staff-time-zone-browser = 跟随浏览器
staff-time-zone-unknown = “{ $value }”不是时区名称：请使用类似 Asia/Shanghai 的名称，或留空以使用浏览器的时区。
staff-preferences-heading = 工作台显示方式
staff-preferences-saved = 已保存：页面现在使用此语言和时区显示。
staff-save = 保存

## the frame around every page
staff-nav-queue = 队列
staff-nav-devices = 设备
staff-nav-knowledge = 知识库
staff-nav-stats = 统计
staff-nav-account = 账户
staff-search = 搜索
staff-search-placeholder = 搜索工单、设备、人员…（/）
staff-sign-out = 退出
staff-role-technician = 技术员
staff-role-supervisor = 主管
staff-role-admin = 管理员
staff-problem = 出现问题
staff-store-unavailable = 采集器的数据存储暂时不可用，页面现在无法显示。请一分钟后重试。

## times
staff-ago = { $unit ->
    [s] { $count } 秒前
    [min] { $count } 分钟前
    [h] { $count } 小时前
   *[d] { $count } 天前
}
staff-due-in = { $unit ->
    [s] 还剩 { $count } 秒
    [min] 还剩 { $count } 分钟
    [h] 还剩 { $count } 小时
   *[d] 还剩 { $count } 天
}
staff-due-late = { $unit ->
    [s] 已超时 { $count } 秒
    [min] 已超时 { $count } 分钟
    [h] 已超时 { $count } 小时
   *[d] 已超时 { $count } 天
}
staff-never = 从未

## the queue
staff-queue-heading = 队列
staff-queue-empty = 这里没有内容：没有符合条件的工单。
staff-queue-truncated = 仅显示前 { $count } 个工单：请缩小筛选范围以查看其余工单。
staff-queue-keys = 快捷键：j/k 移动 · x 选择 · o 打开 · a 分派 · r 解决 · / 搜索
staff-ticket-count = { $count } 个工单
staff-view-open = 全部未结
staff-view-mine = 我的工单
staff-view-unassigned-urgent = 未分派的 P1–P2
staff-view-breaching = 1 小时内将超时
staff-view-reported = 用户报告的
staff-col-id = #
staff-col-priority = 优先级
staff-col-what = 问题
staff-col-who = 设备和用户
staff-col-site = 站点
staff-col-age = 时长
staff-col-sla = SLA
staff-col-updated = 更新时间
staff-col-assignee = 负责人
staff-col-state = 状态
staff-unassigned = 未分派
staff-device-count = { $count } 台设备
staff-select-all = 选择显示的所有工单
staff-state-open = 未结
staff-state-new = 新建
staff-state-assigned = 已分派
staff-state-in_progress = 处理中
staff-state-pending = 等待中
staff-state-resolved = 已解决
staff-state-closed = 已关闭
staff-state-cancelled = 已取消
staff-kind-device = 设备
staff-kind-incident = 事件
staff-kind-report = 用户报告

## filters
staff-filter-view = 视图
staff-filter-state = 状态
staff-filter-priority = 优先级
staff-filter-tier = 级别
staff-filter-kind = 类型
staff-filter-assignee = 负责人
staff-filter-site = 站点
staff-filter-check = 检查项
staff-filter-sort = 排序
staff-filter-health = 健康状况
staff-filter-any = 全部
staff-filter-apply = 筛选
staff-filter-clear = 清除
staff-filter-bad = { $field }“{ $value }”无效：请从 { $valid } 中选择。列表已忽略此条件。

## actions on selected tickets
staff-bulk-selected = 对所选工单：
staff-bulk-assign-to = 分派给…
staff-bulk-assign = 分派
staff-bulk-note-placeholder = 内部备注
staff-bulk-note = 添加备注
staff-bulk-solution-placeholder = 解决方法
staff-bulk-resolve = 解决
staff-bulk-done-assign = 已分派 { $count } 个工单。
staff-bulk-done-comment = 已为 { $count } 个工单添加备注。
staff-bulk-done-resolve = 已解决 { $count } 个工单。
staff-bulk-merge-placeholder = 合并到工单 #
staff-bulk-merge = 合并
staff-bulk-done-merge = 已合并 { $count } 个工单。
staff-bulk-none-selected = 未选择工单：请先勾选工单，再选择操作。
staff-bulk-bad-ticket = “{ $value }”不是工单编号。
staff-bulk-bad-action = “{ $value }”不是可用于所选工单的操作：分派、备注、解决或合并。
staff-bulk-too-many = 选择了 { $count } 个工单；一次操作最多 { $limit } 个。
staff-bulk-result = 部分工单未更改
staff-bulk-partly = 已更改 { $done } 个，被拒绝 { $refused } 个：
staff-back-to-queue = 返回队列

## devices
staff-devices-heading = 设备
staff-devices-find = 查找
staff-devices-find-placeholder = 主机名、用户、站点或操作系统
staff-filter-page = 页码
staff-page-of = 第 { $page } 页，共 { $pages } 页
staff-page-previous = ← 上一页
staff-page-next = 下一页 →
staff-devices-count = 共 { $total } 台设备，显示 { $shown } 台
staff-devices-none = 没有符合条件的设备。
staff-col-device = 设备
staff-col-health = 健康状况
staff-col-user = 用户
staff-col-last-seen = 最后在线
staff-col-agent = 代理
staff-col-open-tickets = 未结工单
staff-health-problems = 有问题
staff-health-firing = { $count } 个问题
staff-health-offline = 离线
staff-health-healthy = 正常
staff-health-revoked = 已吊销

## a ticket
staff-ticket-missing = 没有这个工单。
staff-ticket-priority-why = 影响{ $impact }，紧急度{ $urgency }
staff-level-high = 高
staff-level-medium = 中
staff-level-low = 低
staff-ticket-opened = 创建时间
staff-ticket-response-due = 响应期限
staff-ticket-resolution-due = 解决期限
staff-ticket-requester = 报告人
staff-ticket-affected-users = 受影响用户
staff-ticket-resolution = 解决方法
staff-ticket-systems = 工单系统
staff-sync-not-yet = 尚未创建
staff-sync-waiting = { $count } 项更改等待发送
staff-sync-closed-there = 已在对方关闭
staff-sync-in-step = 已同步
staff-ticket-problem-candidate = 反复出现：可能是一个问题
staff-ticket-known-fixes = 已知解决方法
staff-ticket-no-known-fixes = 暂无：您解决工单时填写的方法下次会被推荐。
staff-ticket-added = 加入时间
staff-ticket-recovered = 恢复时间
staff-ticket-actions = 操作
staff-ticket-reply-to = 回复 { $person }（对方会在帮助页面、通知和电子邮件中看到）
staff-ticket-send-reply = 发送回复
staff-ticket-note = 内部备注（仅员工可见）
staff-ticket-solution = 解决方法（是什么修好的）
staff-ticket-escalate-why = 升级原因
staff-ticket-escalate = 升级
staff-ticket-waiting-for = 等待什么
staff-ticket-set-pending = 设为等待中
staff-ticket-start = 开始处理
staff-ticket-cancel = 取消工单
staff-ticket-reopen = 重新打开
staff-ticket-close = 关闭
staff-ticket-playbook = 诊断流程
staff-ticket-target = 目标
staff-ticket-reproduce = 立即复现
staff-ticket-merge = 合并到工单
staff-ticket-merge-into = 工单编号，或一个未结事件
staff-ticket-merge-explain = 其设备、状况和报告人将转到该工单；本工单作为已合并而取消。
staff-ticket-reproduce-on = 在哪些设备上运行
staff-ticket-reproduce-choose = 请至少选择事件中的一台设备来运行。
staff-ticket-reproduce-queued = 已请求 { $count } 台设备复现：结果将显示在时间线上。
staff-ticket-timeline = 时间线
staff-ticket-when = 时间
staff-ticket-details = 详情
staff-playbook-web = 网站或网页应用
staff-playbook-network = 网络
staff-playbook-slow = 运行缓慢
staff-playbook-disk = 磁盘和保存文件
staff-playbook-crash = 程序崩溃
staff-playbook-printing = 打印
staff-playbook-email = 电子邮件
staff-playbook-clock = 时钟
staff-playbook-health = 整体健康状况

## a device
staff-device-missing = 没有这台设备。
staff-device-os = 操作系统
staff-device-cpu = 处理器
staff-device-cores = { $count } 核
staff-device-memory = 内存
staff-device-connected = 已连接
staff-yes = 是
staff-no = 否
staff-unknown = 未知
staff-device-over-budget = 超出限额
staff-device-over-budget-note = 这台设备{ $note }。它的代理或配置可能有问题，或者它并非其声称的设备。
staff-config = 配置
staff-config-should-run = 集中配置
staff-config-runs = 正在运行
staff-config-local = 仅本地文件
staff-config-not-said = 尚未报告
staff-config-refused = 已拒绝
staff-device-conditions = 当前状况
staff-device-resource = 资源
staff-device-since = 开始时间
staff-device-summary = 摘要
staff-device-history = 健康历史
staff-device-history-chart = 各检查项发现的问题（最近 500 条结果）
staff-device-severity = 严重程度
staff-device-finding = 检查结果
staff-device-tickets = 工单
staff-device-users = 用户
staff-device-no-session = 目前没有人登录这台设备。
staff-device-account = 账户
staff-device-session = 会话
staff-device-where = 位置
staff-device-from = { $line }，来自 { $host }
staff-device-last-login = 最近登录
staff-agent-health = 代理健康状况
staff-agent-health-none = 尚未报告：代理会随心跳一起报告。
staff-agent-check-cycle = 检查周期
staff-agent-memory = 常驻内存
staff-agent-outbox = 待发队列
staff-agent-outbox-depth = { $count } 条结果等待发送
staff-agent-reported = 报告时间

## search
staff-search-words = 关键词
staff-search-kind-tickets = 工单
staff-search-kind-devices = 设备
staff-search-kind-people = 人员
staff-search-kind-knowledge = 知识库
staff-search-hint = 输入几个词：人名、主机名、错误、站点。每个词都必须匹配；最后一个词可以只输入开头。
staff-search-too-long = 最多 { $limit } 个字符。
staff-search-nothing = 没有找到与“{ $words }”相关的内容。请减少关键词，或检查拼写。

## knowledge
staff-fix-worked = 有效 { $count } 次
staff-knowledge-heading = 知识库
staff-knowledge-placeholder = 磁盘、DNS、Outlook…
staff-knowledge-write = 写一篇文章
staff-knowledge-write-for-ticket = 为这个故障写一篇文章
staff-knowledge-edit = 编辑文章
staff-knowledge-articles = 文章
staff-knowledge-no-articles = 还没有匹配的文章。写一篇吧：它会出现在所有涉及其检查项和故障的工单上。
staff-knowledge-none-for-ticket = 还没有文章解答这个故障。
staff-knowledge-solutions = 以往的解决方法
staff-knowledge-no-solutions = 没有找到。工单带解决方法解决后，方法会出现在这里。
staff-knowledge-missing = 没有这篇文章。
staff-knowledge-written-by = 作者 { $author }，最后修改者 { $editor }
staff-knowledge-checks = 检查项
staff-knowledge-fingerprints = 故障
staff-knowledge-title = 标题
staff-knowledge-body = 正文
staff-knowledge-markdown = Markdown：**粗体**、*斜体*、`代码`、用 - 开头的列表、链接写作 [文字](https://…)。HTML 会按文本显示。
staff-knowledge-checks-hint = 解答的检查项（名称开头，用空格分隔：dns. disk.free_low）
staff-knowledge-fingerprints-hint = 解答的故障（工单上的指纹，用空格分隔）
staff-knowledge-title-empty = 文章需要标题。
staff-knowledge-title-long = 标题太长：最多 { $limit } 个字符。
staff-knowledge-body-empty = 文章需要正文。
staff-knowledge-body-long = 正文太长：最多 { $limit } 字节。
staff-knowledge-too-many-links = 一篇文章最多关联 { $limit } 个检查项和 { $limit } 个故障。
staff-knowledge-bad-check = “{ $value }”不是检查项名称的开头：请使用小写字母、数字、点、短横线和下划线，例如 dns. 或 disk.free_low。
staff-knowledge-delete-who = 只有主管或管理员可以删除文章。
staff-delete = 删除
staff-replies-heading = 预设回复
staff-replies-none = 还没有预设回复：管理员可以在这里添加。
staff-replies-add = 添加或修改预设回复
staff-replies-text = 回复内容
staff-replies-same-title = 标题相同的回复会替换旧的。
staff-replies-who = 只有管理员可以修改预设回复。
staff-replies-bad = 预设回复需要标题（最多 200 个字符）和内容。

## account
staff-password-heading = 修改密码
staff-password-current = 当前密码
staff-password-new = 新密码（至少 { $count } 个字符）
staff-password-again = 再次输入新密码
staff-password-sessions = 您的其他会话将结束；当前会话继续有效。
staff-password-change = 修改密码
staff-password-differ = 两次输入的新密码不一致；未做任何更改。
staff-password-changed = 密码已修改。您的其他会话已结束。

## sign-in
staff-sign-in = 登录
staff-sign-in-name = 用户名
staff-sign-in-password = 密码
staff-sign-in-again = 重试
staff-sign-in-wrong = 用户名或密码错误。
staff-sign-in-too-many = 登录失败次数过多；请 { $minutes } 分钟后再试。
staff-sign-in-plain-http = 此页面通过未加密的 HTTP 传输：您的密码会以明文经过网络。请让管理员通过 HTTPS（TLS 反向代理）提供采集器，并将 public_url 设为其 https:// 地址。
staff-search-unreadable = 搜索需要包含字母或数字，且最多 { $limit } 个词。

## the stats page (supervisors)
staff-span = { $unit ->
    [s] { $count } 秒
    [min] { $count } 分钟
    [h] { $count } 小时
   *[d] { $count } 天
}
staff-chart-empty = { $title }：暂无数据。
staff-stats-supervisors-only = 统计仅供主管查看：请向管理员申请主管角色。
staff-stats-heading = 统计：最近 { $days } 天
staff-stats-period = 时间段
staff-stats-opened = 新建工单
staff-stats-findings = 收到的发现
staff-stats-compression = 噪声压缩
staff-stats-compression-value = 每个工单 { $ratio } 条发现
staff-stats-resolved = 已解决
staff-stats-auto-resolved = 自行解决
staff-stats-per-category = 按类别的工单
staff-stats-per-site = 按地点的工单
staff-stats-per-technician = 按技术人员的工单
staff-stats-by-age = 按时长的未结工单
staff-stats-age-under_1h = 1 小时内
staff-stats-age-under_1d = 1 天内
staff-stats-age-under_1w = 1 周内
staff-stats-age-older = 更久
staff-stats-times = 响应与修复时间
staff-stats-col-opened = 新建
staff-stats-mtta-median = 确认时间（中位数）
staff-stats-mtta-p90 = 确认时间（第 90 百分位）
staff-stats-mttr-median = 解决时间（中位数）
staff-stats-mttr-p90 = 解决时间（第 90 百分位）
staff-stats-response-met = 响应 SLA 达成
staff-stats-resolution-met = 解决 SLA 达成
staff-stats-recurring = 最常复发的问题
staff-stats-fingerprint = 故障
staff-stats-tickets = 工单
staff-stats-problem-candidate = 候选问题
staff-stats-people = 用户参与
staff-stats-reports = 用户报告
staff-stats-reports-value = { $reports }（其中 { $joined } 条并入报告人未结的工单）
staff-stats-found-first = 在有人报告前已发现
staff-stats-found-first-value = { $share }（{ $reports } 条报告中的 { $found } 条：报告到达时，已有检查为该设备和该方面开了工单，或有事件可以解释）
staff-stats-unreported = 由检查创建、无人报告
staff-stats-unreported-value = { $share }（新建工单中的 { $count } 个：没有用户报告与之关联或由其解释）
staff-stats-outage = 由已知故障答复
staff-stats-outage-value = { $count }（占报告的 { $share }：一个未结事件解释了它们，并已告知用户）
staff-stats-fixed = 确认“已修复”的报告人
staff-stats-fixed-value = { $share }（{ $answers } 位答复者中的 { $fixed } 位，每个工单取最新答复）
staff-stats-csat = 满意度（CSAT）
staff-stats-csat-value = { $average } / 5（{ $ratings } 个评分）
staff-stats-csat-none = —（暂无评分）
staff-stats-fixes = 修复
staff-stats-runs = 运行
staff-stats-runs-value = 已验证 { $verified }，未验证 { $not_verified }，失败 { $failed }，被设备拒绝 { $refused }，等待中 { $waiting }
staff-stats-verified-rate = 修复验证率
staff-stats-verified-rate-value = { $rate }（在已运行的修复中：发现故障的探测不再发现它）
staff-stats-self-healed = 自愈
staff-stats-self-healed-value = { $share }（在已解决的工单中：由自动修复解决并经验证）
staff-stats-time-to-fix = 修复用时
staff-stats-time-to-fix-value = 自动 { $auto }，人工 { $person }（中位数，从工单创建到修复验证）

## the ticket's fixes
staff-fixes = 修复
staff-fixes-none = 代理中没有能处理此故障的修复。
staff-fixes-record = （成功 { $worked } 次，共 { $tried } 次）
staff-fixes-devices = 在 { $count } 台设备上，先试几台
staff-fixes-running = { $fix } 正在运行
staff-fixes-apply = 应用 { $fix }
staff-fixes-interface = 网络连接
staff-fixes-ask-user = { $fix } 需要用户在其帮助页面上同意
staff-fixes-off = { $fix } 已被策略关闭
staff-fixes-mode-auto = 自动
staff-fixes-mode-approve = 经技术人员批准
staff-fixes-mode-ask-user = 经用户同意
staff-fixes-mode-off = 关闭
staff-fixes-col-fix = 修复
staff-fixes-col-device = 设备
staff-fixes-col-allowed-by = 批准人
staff-fixes-col-state = 状态
staff-fixes-col-asked = 请求时间
staff-fixes-col-answered = 答复时间
staff-fixes-canary = 金丝雀
staff-fix-state-queued = 排队中
staff-fix-state-sent = 已发送到设备
staff-fix-state-verified = 已验证
staff-fix-state-not_verified = 未验证
staff-fix-state-failed = 失败
staff-fix-state-refused = 被设备拒绝
staff-fix-state-expired = 已过期
staff-fix-state-cancelled = 已取消

## timeline entry kinds
staff-event-opened = 新建
staff-event-state = 状态
staff-event-evidence = 证据
staff-event-device = 设备
staff-event-priority = 优先级
staff-event-escalation = 升级
staff-event-sla = SLA
staff-event-comment = 备注
staff-event-assignment = 分派
staff-event-flapping = 抖动
staff-event-stale = 设备失联
staff-event-known-fix = 已知修复
staff-event-problem = 问题
staff-event-merge = 合并
staff-event-related = 相关
staff-event-report = 用户报告
staff-event-reproduce = 复现
staff-event-notification = 通知
staff-event-sync = 工单系统
staff-event-reply = 回复
staff-event-requester-answer = 报告人答复
staff-event-fix = 修复

## fleet configuration (admins)
staff-nav-fleet = 集中配置
staff-fleet-admins-only = 集中配置仅供管理员使用。
staff-fleet-heading = 集中配置
staff-fleet-explain = 策略为设备组设置代理配置（使用 agent.toml 的键）；两条策略设置同一键时，优先级高者生效。每次修改都是一个新版本；代理会在几秒内应用，并报告其运行的版本或拒绝的原因。
staff-fleet-policies = 策略
staff-fleet-name = 名称
staff-fleet-group = 组
staff-fleet-precedence = 优先级
staff-fleet-version = 版本
staff-fleet-updated = 修改时间
staff-fleet-rolling = 正在发布：{ $canaries } 台金丝雀设备，其余运行 v{ $stable }
staff-fleet-rolling-long = 版本 { $version } 只在 { $canaries } 台金丝雀设备上运行；其余设备保持版本 { $stable }，直到推广。
staff-fleet-versions = 设备运行的版本
staff-fleet-running = 运行中
staff-fleet-refusing = 已拒绝
staff-fleet-groups = 组
staff-fleet-members = 设备
staff-fleet-created-by = 创建者
staff-fleet-rule-site = 地点为 { $site }
staff-fleet-rule-rule = 主机名 { $pattern }，操作系统 { $os }
staff-fleet-rule-manual = 手动选择的 { $count } 台设备
staff-fleet-new-group = 新建组
staff-fleet-kind = 类型
staff-fleet-kind-site = 按地点
staff-fleet-kind-rule = 按主机名和操作系统
staff-fleet-kind-manual = 手动
staff-fleet-group-value = 地点、主机名模式或设备 ID
staff-fleet-group-os = 操作系统包含
staff-fleet-add = 添加
staff-fleet-new-policy = 新建策略
staff-fleet-settings = 设置（agent.toml）
staff-fleet-note = 原因
staff-fleet-no-policy = 没有这条策略。
staff-fleet-refused = 未保存
staff-fleet-change = 修改
staff-fleet-canary = 先发布到金丝雀设备
staff-fleet-canary-percent = 组内设备比例（%）
staff-fleet-canary-group = 金丝雀组
staff-fleet-bad-percent = “{ $value }”不是 0 到 100 之间的比例：未保存任何内容。
staff-fleet-save = 保存为新版本
staff-fleet-promote = 推广到所有设备
staff-fleet-history = 版本
staff-fleet-by = 修改人
staff-fleet-changes = 变更内容
staff-fleet-roll-back = 回滚到此版本
