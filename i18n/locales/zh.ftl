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
