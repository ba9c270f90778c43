# Firstline 给用户看的文字（中文）。

language-name = 中文

report-count = { $count } 份报告

## notify

# The button on a desktop notification (a reply, a fix to confirm, an outage) that opens the help page.
notify-open-help = 打开帮助
