# Τα κείμενα του Firstline για τους χρήστες, στα ελληνικά.

language-name = Ελληνικά

report-count = { $count ->
    [one] { $count } αναφορά
   *[other] { $count } αναφορές
}

## notify

# The button on a desktop notification (a reply, a fix to confirm, an outage) that opens the help page.
notify-open-help = Άνοιγμα βοήθειας
