# Firstline's words for the people it helps, in English. Every message here is in zh.ftl,
# pl.ftl and el.ftl too (a test says so). Write for someone who is not technical: what
# happened, and what to do now.

language-name = English

report-count = { $count ->
    [one] { $count } report
   *[other] { $count } reports
}

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
