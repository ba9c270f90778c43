# Firstline 给用户看的文字（中文）。

language-name = 中文

report-count = { $count } 份报告
