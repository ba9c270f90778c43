# Firstline's words for the people it helps, in English. Every message here is in zh.ftl,
# pl.ftl and el.ftl too (a test says so). Write for someone who is not technical: what
# happened, and what to do now.

language-name = English

report-count = { $count ->
    [one] { $count } report
   *[other] { $count } reports
}

## notify

# The button on a desktop notification (a reply, a fix to confirm, an outage) that opens the help page.
notify-open-help = Open help
