# Firstline's words for the people it helps, in English. Every message here is in zh.ftl,
# pl.ftl and el.ftl too (a test says so). Write for someone who is not technical: what
# happened, and what to do now.

language-name = English

report-count = { $count ->
    [one] { $count } report
   *[other] { $count } reports
}

## help: `firstline-agent help` and the desktop's "Get IT help"

help-link = Your IT help page: { $url } — open it in your browser. The link works once, for a few minutes.
help-opening = Opening your IT help page in your browser: { $url }
help-open-failed = The browser did not open. Copy this link into your browser (it works once, for a few minutes): { $url }
help-agent-not-running = The IT support service is not running on this computer, so your help page cannot be opened.
help-unreachable = IT support cannot be reached from this computer right now: the computer may be offline, or the network may be down.
help-no-answer = IT support did not answer in time. Please try again in a minute.
help-refused = IT support could not open your help page: { $reason }
help-too-many = Your help page was asked for many times in the last minute. Please wait a minute, then try again.
help-failed = Your help page could not be prepared ({ $reason }).
help-what-to-do = You can still tell IT what is wrong: open a terminal and type firstline-agent report followed by the problem in your own words, for example: firstline-agent report the printer does not print. Or call your IT service desk.
help-title = IT help
