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

## words
# What a diagnosis tells the person who reported the problem (said-*), what they can do now
# (advice-*), and the words of `firstline-agent report` (report-*).

said-test-failed = The test could not run on this computer.
said-web-which-site = Which website does not open? The test needs its address.
said-web-bad-address = That address cannot be tested: it does not look like a web address.
said-web-works = { $site } opens from this computer.
said-web-name-unknown = { $site } cannot be found: the name does not exist in the company's address book (DNS).
said-web-dns-silent = { $site } cannot be found: the network's address book (DNS) does not answer.
said-web-refused = { $site } was found, but it does not accept connections: the service is down or blocked.
said-web-insecure = The secure connection to { $site } fails: its security certificate is not accepted.
said-web-error-page = { $site } answers, but only with an error page.
said-web-not-tested = { $site } was not tested: this computer may only test the addresses your IT team allows.
said-net-no-link = This computer is not connected to any network.
said-net-no-address = This computer is connected, but the network did not give it an address.
said-net-no-router = The router of your network does not answer.
said-net-dns = The company's names cannot be found: the address book (DNS) of the network you are on does not know them or does not answer.
said-net-company-unreachable = The company's servers cannot be reached from the network you are on.
said-net-no-internet = Your local network works, but the internet cannot be reached.
said-net-works = The network works on this computer: it is connected, names are found and the company's servers answer.
said-slow-cpu = The computer is slow because { $program } keeps the processor busy ({ $pct }%).
said-slow-memory = The computer is slow because its memory is full.
said-slow-disk = The computer is slow because its disk is very busy.
said-slow-hot = The computer is very hot and slows itself down to cool off.
said-slow-normal = Nothing unusual was found: the processor, memory, disk and temperature are normal.
said-disk-full = The disk { $place } is full: there is no room left to save files.
said-disk-nearly-full = The disk { $place } is almost full ({ $pct }% used).
said-disk-read-only = The disk { $place } is locked against changes, so nothing can be saved on it.
said-disk-cannot-save = Files cannot be saved in { $place }.
said-disk-ok = The disks have room and files can be saved.
said-crash-found = { $count ->
    [one] { $program } closed unexpectedly once in the last 7 days.
   *[other] { $program } closed unexpectedly { $count } times in the last 7 days.
}
said-crash-none-for = { $program } left no crash reports in the last 7 days.
said-crash-none = No program left a crash report in the last 7 days.
said-print-service-off = The printing service on this computer is not running.
said-print-unreachable = The printer { $printer } cannot be reached over the network.
said-print-not-tested = No printers are set up for testing on this computer, so the printer itself was not checked.
said-print-answers = The printers answer, so the problem is with the print job or the printer itself.
said-mail-not-set-up = No mail servers are set up for testing on this computer.
said-mail-unreachable = The mail server cannot be reached from this computer.
said-mail-ok = The mail servers answer, so the problem is probably in the mail program or the mailbox.
said-clock-unknown = The clock could not be compared with the network's clock.
said-clock-wrong = { $minutes ->
    [one] This computer's clock is { $minutes } minute wrong, and that makes sign-in and secure websites fail.
   *[other] This computer's clock is { $minutes } minutes wrong, and that makes sign-in and secure websites fail.
}
said-clock-ok = The clock is right, so the sign-in problem is somewhere else.
said-health-ok = Every check passed: no problem was found on this computer.
said-health-problems = { $area ->
    [disk] A disk is full or failing.
    [memory] The memory is almost full.
    [cpu] The processor is overloaded.
    [thermal] The computer is too hot.
    [battery] The battery is worn out.
    [clock] The computer's clock is wrong.
    [network] The network connection has a problem.
    [reboot] The computer needs a restart to finish installing updates.
    [crash] A program keeps crashing.
   *[other] Something on this computer needs attention.
} { $count ->
    [one] The checks found { $count } problem in all; your IT team can see the details.
   *[other] The checks found { $count } problems in all; your IT team can see the details.
}
advice-wait-for-it = This cannot be fixed on your computer: your IT team has to fix it.
advice-web-give-address = If one website does not open, send a report with its address, for example intranet.example.com.
advice-web-reload = Reload the page (F5). If it still fails, send a report with the message the page shows.
advice-web-check-spelling = Check that { $site } is spelled correctly.
advice-web-no-click-through = Do not click past the security warning, and do not type passwords on that page.
advice-vpn-first = If you work outside the office, connect the VPN first and try again.
advice-net-cable-wifi = Check the network cable or turn Wi-Fi on, then try again.
advice-net-reconnect = Turn Wi-Fi off and on again, or unplug the network cable and plug it back in.
advice-net-restart-router = At home, restart the router: unplug it, wait 30 seconds and plug it back in.
advice-slow-close-program = Save your work and close { $program }. If it does not close, restart the computer.
advice-slow-close-programs = Close the programs you are not using; restart the computer if it stays slow.
advice-slow-close-programs-named = Close some programs; { $program } is using { $gb } GB.
advice-slow-wait = Wait a few minutes for it to finish. If it stays slow, restart the computer.
advice-slow-cool = Make sure the air vents are free and the computer stands on a hard surface.
advice-slow-name-program = If one program is slow, send a report naming that program.
advice-disk-save-elsewhere = Save your work to a network drive or OneDrive.
advice-disk-free-space = Delete files you no longer need and empty the Recycle Bin.
advice-disk-name-program = If one program cannot save, send a report naming the program and the folder.
advice-crash-save-restart = Save your work often and restart the computer. If { $program } keeps closing, your IT team has its crash reports.
advice-crash-describe = Send a report saying what you were doing when the program closed and what you saw on the screen.
advice-print-restart-computer = Restart the computer and print again.
advice-print-check-power = Check that the printer is switched on, connected and shows no error.
advice-print-check-printer = Check the printer for paper, toner and jammed sheets, and delete stuck documents from the print queue.
advice-mail-restart = Close your mail program and open it again, and check that your mailbox is not full.
advice-clock-sync = Turn on "Set time automatically" in the date and time settings, or restart the computer.
advice-clock-password = Check Caps Lock and the keyboard language, then type your password again. If your account is locked, call your IT team.
advice-health-restart = Save your work and restart the computer when you can.
advice-describe-problem = Say what does not work: which program, and what you see on the screen.
report-cli-found = What we found:
report-cli-advice = What to do now:
report-cli-sent = Sent to your IT team (reference { $reference }). They can see these results; you do not need to repeat them.
report-note-rate-limited = { $count ->
    [one] You have already sent { $count } report
   *[other] You have already sent { $count } reports
} in the last { $window_minutes } minutes. Your IT team has them, so there is no need to send more. { $wait_minutes ->
    [one] You can send another in { $wait_minutes } minute.
   *[other] You can send another in { $wait_minutes } minutes.
}
report-note-busy = The support program on this computer is busy with other reports. Please try again in a minute.
report-note-unreadable = Your report could not be read. Please try again and say in a few words what is wrong.
report-note-broken-setup = The support program on this computer is not set up correctly. Please call your IT team.
report-note-not-queued = Your report could not be sent to your IT team. Please call them.
report-note-agent-down = Not sent: the support program is not running on this computer. Please call your IT team.

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

## notify

# The button on a desktop notification (a reply, a fix to confirm, an outage) that opens the help page.
notify-open-help = Open help

## help page: a fix the user may start (ask-user)

help-fix-offer = We can try to fix this for you now.
help-fix-button = Try the fix
help-fix-running = We are trying the fix on your computer. This page shows the result in a minute.
help-fix-what-disk-cleanup = The fix deletes old temporary files, old items in the trash and old caches, to free space on your disk.
help-fix-what-dns-flush = The fix clears the list of web addresses your computer remembers, so that it looks them up again.
help-fix-what-service-restart = The fix restarts the background program that stopped.
help-fix-what-print-restart = The fix restarts printing and cancels the print jobs that are stuck.
help-fix-what-clock-resync = The fix sets your computer's clock to the right time.
help-fix-what-process-end = The fix closes the program that makes your computer slow. Save your work in it first: anything not saved there may be lost.
help-fix-what-network-renew = The fix switches your network connection on again and asks for a new address. If IT cannot be reached afterwards, it puts everything back as it was.
help-fix-started = We started the fix. This page shows the result in a minute.
help-fix-not-now = This fix cannot be started from here now. Your IT team sees your request.

## the printing playbook: jobs stuck in the queue

said-print-stuck = { $count ->
    [one] One print job has been waiting in the queue for more than { $minutes } minutes: printing is stuck.
   *[other] { $count } print jobs have been waiting in the queue for more than { $minutes } minutes: printing is stuck.
}
advice-print-stuck = Your IT team can cancel the stuck jobs and restart printing for you. Afterwards, print your document again.
