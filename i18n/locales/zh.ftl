# Firstline 给用户看的文字（中文）。

language-name = 中文

report-count = { $count } 份报告

## notices

notice-reply-title = IT 回复了您的请求 #{ $ticket }
notice-reply-body = { $text }
notice-resolved-title = 您的请求 #{ $ticket } 已解决
notice-resolved-body = 现在能正常使用了吗？请打开“获取 IT 帮助”告诉我们。

## help page

help-page-title = IT 帮助
help-for-device = { $device } 的帮助
help-signed-in-as = 您是 { $person }。
help-health-heading = 这台电脑的状态
help-health-good = 我们检查的各项都正常。
help-area-storage = 存储
help-area-network = 网络
help-area-memory = 内存
help-area-battery = 电池
help-area-updates = 更新
help-area-performance = 速度和温度
help-area-printing = 打印
help-area-clock = 时钟
help-area-applications = 程序
help-area-services = 后台服务
help-area-security = 安全
help-area-other = 其他
help-state-green = 正常
help-state-amber = 需要注意
help-state-red = 不能使用
help-reason-storage = 磁盘快满了，或者文件无法保存。
help-reason-network = 网络连接的某一部分不工作。
help-reason-memory = 电脑的内存快用完了。
help-reason-battery = 电池需要注意。
help-reason-updates = 有更新在等待，或者电脑需要重启。
help-reason-performance = 电脑非常忙或者温度过高。
help-reason-printing = 无法连接到打印机。
help-reason-clock = 电脑的时间不对，这可能导致无法登录。
help-reason-applications = 有一个程序经常意外关闭。
help-reason-services = 有一个后台服务停止了。
help-reason-security = 有一项安全设置需要注意。
help-reason-other = 有问题需要注意；IT 可以看到详细信息。
help-it-knows = IT 已经知道了。
help-outages-heading = 已知问题
help-outage = { $count ->
    [one] IT 已知道这台电脑的{ $what }有问题，正在处理，您无需报告。
   *[other] { $where }的很多人都遇到了{ $what }的问题。IT 正在处理，您无需报告。
}
help-outage-where-site = { $site }办公室
help-outage-where-network = 同一网络中
help-outage-where-any = 公司里
help-report-heading = 请用您自己的话描述问题
help-report-hint = 例如：“我无法打印”、“网速很慢”、“Outlook 总是自动关闭”。
help-report-send = 检查我的电脑并告诉 IT
help-report-empty = 请先写几个字描述问题。
help-report-too-long = 内容太长了（最多 { $max } 个字符），请写短一些。
help-report-busy = 您的电脑已经有几项检查在等待。请过几分钟再试。
help-report-offline = 您的电脑现在没有连接到 IT，所以无法检查。请过几分钟再试，或者给 IT 服务台打电话。
help-checking = 正在检查您的电脑…
help-checking-detail = 通常不到一分钟。页面会自动更新。
help-result-heading = 检查结果
help-advice-heading = 现在该怎么做
help-result-failed = 检查没能完成：{ $why }
help-result-expired = 您的电脑没有及时回应。请在电脑开机并联网时再试。
help-ticket-number = 您的请求编号是 #{ $ticket }。IT 已经收到，您无需再次发送。
help-ticket-waiting = IT 已收到您的报告；请求编号稍后会显示在这里。
help-known-outage = 这是已知问题：IT 已经在处理。
help-requests-heading = 您的请求
help-requests-none = 您还没有从这台电脑报告过问题。
help-request-line = #{ $ticket }：{ $title }
help-opened = 报告于 { $when }
help-reply-from = IT 的回复
help-your-answer = 您的回答
help-status-new = 已收到
help-status-assigned = 已分配给技术人员
help-status-in_progress = 正在处理
help-status-pending = 等待中
help-status-resolved = 已解决
help-status-closed = 已关闭
help-status-cancelled = 已取消
help-fixed-question = IT 表示问题已解决。现在能正常使用了吗？
help-fixed-yes = 是的，可以用了
help-fixed-no = 不，还是有问题
help-fixed-words = 如果还有问题，现在是什么情况？
help-rating-question = 您对这次帮助满意吗？（可选）
help-rating-1 = 1 – 非常不满意
help-rating-5 = 5 – 非常满意
help-answer-thanks-fixed = 谢谢。我们已关闭该请求。
help-answer-thanks-broken = 谢谢。我们已重新打开该请求，IT 会再次处理。
help-language = 语言
help-link-invalid-title = 此链接已失效
help-link-invalid = “获取 IT 帮助”的链接只能使用一次，并且只在几分钟内有效。请从菜单中再次打开“获取 IT 帮助”。
help-session-over = 您的帮助页面已关闭。请从菜单中再次打开“获取 IT 帮助”。
help-page-refused = 无法从这里发送此页面。请刷新页面后重试。
help-not-yours = 这不是您的请求。

## mail

mail-reply-subject = [#{ $ticket }] IT 回复了您的请求
mail-reply-body = IT 回复了您的请求 #{ $ticket }：

    { $text }

    您可以在帮助页面上回复或查看该请求：在您的电脑上打开“获取 IT 帮助”。
mail-resolved-subject = [#{ $ticket }] 您的请求已解决：现在能正常使用了吗？
mail-resolved-body = IT 表示您的请求 #{ $ticket } 已解决。

    现在能正常使用了吗？请在电脑上打开“获取 IT 帮助”，回答“是的，可以用了”或“不，还是有问题”。如果还有问题，我们会重新打开该请求。

## outage notices

notice-outage-title = IT 已知道一个影响您电脑的问题
notice-outage-ended-title = IT 处理的问题已修复
notice-outage-ended-body = { $what } 应该可以正常使用了。如果还不行，请打开“获取 IT 帮助”告诉我们。

## words
# 诊断结果（said-*）、现在该怎么做（advice-*）和 `firstline-agent report` 的提示（report-*）。

said-test-failed = 这台电脑上无法进行检测。
said-web-which-site = 是哪个网站打不开？检测需要它的网址。
said-web-bad-address = 无法检测这个地址：它看起来不是一个网址。
said-web-works = 在这台电脑上可以打开 { $site }。
said-web-name-unknown = 找不到 { $site }：公司的“地址簿”（DNS）里没有这个名字。
said-web-dns-silent = 找不到 { $site }：网络的“地址簿”（DNS）没有回应。
said-web-refused = 找到了 { $site }，但它不接受连接：服务已停止或被拦截。
said-web-insecure = 与 { $site } 的安全连接失败：它的安全证书不被认可。
said-web-error-page = { $site } 有回应，但只显示错误页面。
said-web-not-tested = 没有检测 { $site }：这台电脑只能检测 IT 部门允许的地址。
said-net-no-link = 这台电脑没有连接到任何网络。
said-net-no-address = 这台电脑已连接网络，但网络没有给它分配地址。
said-net-no-router = 您所在网络的路由器没有回应。
said-net-dns = 找不到公司的网址：您所在网络的“地址簿”（DNS）不认识这些名字，或者没有回应。
said-net-company-unreachable = 从您现在所在的网络无法连接公司的服务器。
said-net-no-internet = 本地网络正常，但无法连接互联网。
said-net-works = 这台电脑的网络正常：已连接，能找到网址，公司的服务器也有回应。
said-slow-cpu = 电脑变慢是因为 { $program } 一直占用处理器（{ $pct }%）。
said-slow-memory = 电脑变慢是因为内存已满。
said-slow-disk = 电脑变慢是因为硬盘非常繁忙。
said-slow-hot = 电脑温度很高，正在自动降速散热。
said-slow-normal = 没有发现异常：处理器、内存、硬盘和温度都正常。
said-disk-full = 磁盘 { $place } 已满：没有空间保存文件了。
said-disk-nearly-full = 磁盘 { $place } 快满了（已用 { $pct }%）。
said-disk-read-only = 磁盘 { $place } 被锁定为只读，无法在上面保存任何文件。
said-disk-cannot-save = 无法在 { $place } 中保存文件。
said-disk-ok = 磁盘有足够空间，可以保存文件。
said-crash-found = { $program } 在过去 7 天里意外关闭了 { $count } 次。
said-crash-none-for = 过去 7 天里没有 { $program } 的崩溃记录。
said-crash-none = 过去 7 天里没有任何程序留下崩溃记录。
said-print-service-off = 这台电脑上的打印服务没有运行。
said-print-unreachable = 无法通过网络连接打印机 { $printer }。
said-print-not-tested = 这台电脑没有设置可供检测的打印机，所以没有检查打印机本身。
said-print-answers = 打印机有回应，所以问题出在打印任务或打印机本身。
said-mail-not-set-up = 这台电脑没有设置可供检测的邮件服务器。
said-mail-unreachable = 这台电脑无法连接邮件服务器。
said-mail-ok = 邮件服务器有回应，问题可能出在邮件程序或邮箱本身。
said-clock-unknown = 无法把电脑的时钟与网络的时钟进行比较。
said-clock-wrong = 这台电脑的时钟差了 { $minutes } 分钟，这会导致登录和安全网站失败。
said-clock-ok = 时钟是准确的，所以登录问题出在别的地方。
said-health-ok = 所有检查都通过了：这台电脑没有发现问题。
said-health-problems = { $area ->
    [disk] 有一个磁盘已满或出现故障。
    [memory] 内存快用完了。
    [cpu] 处理器负担过重。
    [thermal] 电脑温度过高。
    [battery] 电池已经老化。
    [clock] 电脑的时钟不准。
    [network] 网络连接有问题。
    [reboot] 电脑需要重启才能完成更新安装。
    [crash] 有一个程序经常崩溃。
   *[other] 这台电脑有需要处理的问题。
}检查一共发现了 { $count } 个问题；IT 部门可以看到详细信息。
advice-wait-for-it = 这个问题无法在您的电脑上解决，需要由 IT 部门处理。
advice-web-give-address = 如果是某个网站打不开，请再报告一次并写上它的网址，例如 intranet.example.com。
advice-web-reload = 刷新页面（按 F5）。如果还是不行，请报告页面上显示的提示。
advice-web-check-spelling = 请检查 { $site } 是否拼写正确。
advice-web-no-click-through = 不要忽略安全警告继续访问，也不要在该页面输入密码。
advice-vpn-first = 如果您不在办公室，请先连接 VPN，然后再试一次。
advice-net-cable-wifi = 请检查网线，或打开 Wi-Fi，然后再试一次。
advice-net-reconnect = 关闭 Wi-Fi 再重新打开，或者拔下网线再插回去。
advice-net-restart-router = 如果在家，请重启路由器：拔掉电源，等 30 秒再插上。
advice-slow-close-program = 保存您的工作并关闭 { $program }。如果关不掉，请重启电脑。
advice-slow-close-programs = 关闭不用的程序；如果仍然很慢，请重启电脑。
advice-slow-close-programs-named = 请关闭一些程序；{ $program } 正在占用 { $gb } GB 内存。
advice-slow-wait = 请等几分钟让它完成。如果仍然很慢，请重启电脑。
advice-slow-cool = 请确保通风口没有被挡住，并把电脑放在坚硬平整的表面上。
advice-slow-name-program = 如果只是某个程序很慢，请报告时写上这个程序的名字。
advice-disk-save-elsewhere = 请把您的工作保存到网络驱动器或 OneDrive。
advice-disk-free-space = 删除不再需要的文件，并清空回收站。
advice-disk-name-program = 如果只是某个程序无法保存，请报告时写上程序名和文件夹。
advice-crash-save-restart = 请经常保存您的工作，并重启电脑。如果 { $program } 还是经常关闭，IT 部门已经拿到它的崩溃记录。
advice-crash-describe = 请报告程序关闭时您正在做什么，以及屏幕上显示了什么。
advice-print-restart-computer = 请重启电脑，然后再打印一次。
advice-print-check-power = 请检查打印机是否已开机、已连接，并且没有显示错误。
advice-print-check-printer = 请检查打印机的纸张、墨粉和卡纸，并删除打印队列中卡住的文档。
advice-mail-restart = 关闭邮件程序再重新打开，并检查邮箱是否已满。
advice-clock-sync = 在日期和时间设置中打开“自动设置时间”，或者重启电脑。
advice-clock-password = 请检查大写锁定键和键盘输入法，然后重新输入密码。如果账户被锁定，请联系 IT 部门。
advice-health-restart = 请保存您的工作，并在方便时重启电脑。
advice-describe-problem = 请说明哪里不能用：是哪个程序，屏幕上显示了什么。
report-cli-found = 检测结果：
report-cli-advice = 现在该怎么做：
report-cli-sent = 已发送给 IT 部门（编号 { $reference }）。他们能看到这些结果，您不需要重复说明。
report-note-rate-limited = 您在过去 { $window_minutes } 分钟内已经发送了 { $count } 份报告。IT 部门已经收到，不需要再发送。您可以在 { $wait_minutes } 分钟后再发送。
report-note-busy = 这台电脑上的支持程序正在处理其他报告。请一分钟后再试。
report-note-unreadable = 无法读取您的报告。请再试一次，用几句话说明哪里出了问题。
report-note-broken-setup = 这台电脑上的支持程序设置不正确。请联系 IT 部门。
report-note-not-queued = 您的报告无法发送给 IT 部门。请直接联系他们。
report-note-agent-down = 没有发送：这台电脑上的支持程序没有运行。请联系 IT 部门。

## help: `firstline-agent help` and the desktop's "Get IT help"

help-link = 您的 IT 帮助页面：{ $url } —— 请在浏览器中打开。此链接只能使用一次，几分钟后失效。
help-opening = 正在浏览器中打开您的 IT 帮助页面：{ $url }
help-open-failed = 浏览器没有打开。请把这个链接复制到浏览器中（只能使用一次，几分钟后失效）：{ $url }
help-agent-not-running = 这台电脑上的 IT 支持服务没有运行，所以无法打开您的帮助页面。
help-unreachable = 现在无法从这台电脑联系到 IT 支持：电脑可能没有联网，或者网络出了故障。
help-no-answer = IT 支持没有及时回应。请过一分钟再试。
help-refused = IT 支持无法打开您的帮助页面：{ $reason }
help-too-many = 过去一分钟内已多次请求您的帮助页面。请等一分钟后再试。
help-failed = 无法准备您的帮助页面（{ $reason }）。
help-what-to-do = 您仍然可以告诉 IT 出了什么问题：打开终端，输入 firstline-agent report，后面用您自己的话描述问题，例如：firstline-agent report 打印机不能打印。也可以打电话给 IT 服务台。
help-title = IT 帮助

## notify

# The button on a desktop notification (a reply, a fix to confirm, an outage) that opens the help page.
notify-open-help = 打开帮助

## help page: a fix the user may start (ask-user)

help-fix-offer = 我们现在可以尝试为您修复。
help-fix-button = 尝试修复
help-fix-running = 正在您的电脑上尝试修复。一分钟后此页面会显示结果。
help-fix-what-disk-cleanup = 此修复会删除旧的临时文件、回收站中的旧文件和旧缓存，以释放磁盘空间。
help-fix-what-dns-flush = 此修复会清除电脑记住的网址列表，让电脑重新查找这些网址。
help-fix-what-service-restart = 此修复会重新启动已停止的后台程序。
help-fix-what-print-restart = 此修复会重新启动打印服务，并取消卡住的打印任务。
help-fix-what-clock-resync = 此修复会把电脑时钟校准到正确时间。
help-fix-what-process-end = 此修复会关闭使电脑变慢的程序。请先在该程序中保存您的工作：未保存的内容可能会丢失。
help-fix-what-network-renew = 此修复会重新打开您的网络连接并申请新的地址。如果之后无法连接到 IT，它会把一切恢复原样。
help-fix-started = 修复已开始。一分钟后此页面会显示结果。
help-fix-not-now = 现在无法从这里启动此修复。您的 IT 团队可以看到您的请求。

## the printing playbook: jobs stuck in the queue

said-print-stuck = 有 { $count } 个打印任务在队列中等待超过 { $minutes } 分钟：打印卡住了。
advice-print-stuck = 您的 IT 团队可以为您取消卡住的打印任务并重新启动打印服务。之后请重新打印您的文档。
