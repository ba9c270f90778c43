# Τα κείμενα του Firstline για τους χρήστες, στα ελληνικά.

language-name = Ελληνικά

report-count = { $count ->
    [one] { $count } αναφορά
   *[other] { $count } αναφορές
}
