# Teksty Firstline dla użytkowników, po polsku.

language-name = Polski

report-count = { $count ->
    [one] { $count } zgłoszenie
    [few] { $count } zgłoszenia
   *[many] { $count } zgłoszeń
}

## notify

# The button on a desktop notification (a reply, a fix to confirm, an outage) that opens the help page.
notify-open-help = Otwórz pomoc
