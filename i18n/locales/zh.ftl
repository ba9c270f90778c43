# Firstline 给用户看的文字（中文）。

language-name = 中文

report-count = { $count } 份报告

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
