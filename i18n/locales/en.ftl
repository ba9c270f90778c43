# Firstline's words for the people it helps, in English. Every message here is in zh.ftl,
# pl.ftl and el.ftl too (a test says so). Write for someone who is not technical: what
# happened, and what to do now.

language-name = English

report-count = { $count ->
    [one] { $count } report
   *[other] { $count } reports
}

## notices (desktop notifications the collector sends; written for the person who reported)

notice-reply-title = IT replied about your request #{ $ticket }
notice-reply-body = { $text }
notice-resolved-title = Your request #{ $ticket } is solved
notice-resolved-body = Is it working again? Open Get IT help to say yes or no.

## help page (the person's own page, reached from "Get IT help")

help-page-title = IT help
help-for-device = Help for { $device }
help-signed-in-as = You are { $person }.
help-health-heading = How this computer is doing
help-health-good = Everything we check looks fine.
help-area-storage = Storage
help-area-network = Network
help-area-memory = Memory
help-area-battery = Battery
help-area-updates = Updates
help-area-performance = Speed and temperature
help-area-printing = Printing
help-area-clock = Clock
help-area-applications = Programs
help-area-services = Background services
help-area-security = Security
help-area-other = Other
help-state-green = OK
help-state-amber = Needs attention
help-state-red = Not working
help-reason-storage = A disk is almost full, or files cannot be saved.
help-reason-network = Part of the network connection is not working.
help-reason-memory = The computer is running out of memory.
help-reason-battery = The battery needs attention.
help-reason-updates = Updates are waiting, or the computer needs a restart.
help-reason-performance = The computer is very busy or running hot.
help-reason-printing = A printer cannot be reached.
help-reason-clock = The computer's clock is wrong, which can break signing in.
help-reason-applications = A program keeps closing unexpectedly.
help-reason-services = A background service has stopped.
help-reason-security = A security setting needs attention.
help-reason-other = Something needs attention; IT can see the details.
help-it-knows = IT already knows.
help-outages-heading = Known problems
help-outage = { $count ->
    [one] IT knows about a problem with { $what } on this computer. IT is working on it; you do not need to report it.
   *[other] Many people { $where } have a problem with { $what }. IT is working on it; you do not need to report it.
}
help-outage-where-site = at the { $site } office
help-outage-where-network = on the same network
help-outage-where-any = in the company
help-report-heading = Describe the problem in your own words
help-report-hint = For example: "I cannot print", "the internet is slow", "Outlook keeps closing".
help-report-send = Check my computer and tell IT
help-report-empty = Please write a few words about the problem first.
help-report-too-long = That is longer than we can take ({ $max } characters at most). Please make it shorter.
help-report-busy = Your computer already has several checks waiting. Please wait a few minutes and try again.
help-report-offline = Your computer is not connected to IT right now, so it cannot be checked. Try again in a few minutes, or call the IT desk.
help-checking = Checking your computer…
help-checking-detail = This usually takes less than a minute. The page updates by itself.
help-result-heading = What we found
help-advice-heading = What to do now
help-result-failed = The check could not finish: { $why }
help-result-expired = Your computer did not answer in time. Try again when it is on and connected.
help-ticket-number = Your request number is #{ $ticket }. IT has it and you do not need to send it again.
help-ticket-waiting = IT has your report; a request number will appear here in a moment.
help-known-outage = This is a known problem: IT is already working on it.
help-requests-heading = Your requests
help-requests-none = You have not reported anything from this computer yet.
help-request-line = #{ $ticket }: { $title }
help-opened = Reported { $when }
help-reply-from = Reply from IT
help-your-answer = Your answer
help-status-new = Received
help-status-assigned = A technician has it
help-status-in_progress = Being worked on
help-status-pending = Waiting
help-status-resolved = Solved
help-status-closed = Closed
help-status-cancelled = Cancelled
help-fixed-question = IT says this is solved. Is it working again?
help-fixed-yes = Yes, it works
help-fixed-no = No, it is still broken
help-fixed-words = If it is still broken, what happens now?
help-rating-question = How happy are you with the help? (optional)
help-rating-1 = 1 – very unhappy
help-rating-5 = 5 – very happy
help-answer-thanks-fixed = Thank you. We have closed the request.
help-answer-thanks-broken = Thank you. We have reopened the request and IT will look at it again.
help-language = Language
help-link-invalid-title = This link no longer works
help-link-invalid = Links from "Get IT help" work once and only for a few minutes. Open "Get IT help" from the menu again.
help-session-over = Your help page has closed. Open "Get IT help" from the menu again.
help-page-refused = This page could not be sent from here. Reload the page and try again.
help-not-yours = This request is not one of yours.

## mail to the person who reported

mail-reply-subject = [#{ $ticket }] IT replied about your request
mail-reply-body = IT replied about your request #{ $ticket }:

    { $text }

    You can answer or see the request on your help page: open "Get IT help" on your computer.
mail-resolved-subject = [#{ $ticket }] Your request is solved: is it working again?
mail-resolved-body = IT says your request #{ $ticket } is solved.

    Is it working again? Open "Get IT help" on your computer and answer "Yes, it works" or "No, it is still broken". If it is still broken, we will reopen it.

## outage notices

notice-outage-title = IT knows about a problem affecting your computer
notice-outage-ended-title = A problem IT was working on is fixed
notice-outage-ended-body = { $what } should work again. If it still does not, open Get IT help and tell us.
