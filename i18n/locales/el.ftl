# Τα κείμενα του Firstline για τους χρήστες, στα ελληνικά.

language-name = Ελληνικά

report-count = { $count ->
    [one] { $count } αναφορά
   *[other] { $count } αναφορές
}

## notices

notice-reply-title = Το τμήμα IT απάντησε στο αίτημά σας #{ $ticket }
notice-reply-body = { $text }
notice-resolved-title = Το αίτημά σας #{ $ticket } λύθηκε
notice-resolved-body = Λειτουργεί ξανά; Ανοίξτε τη «Βοήθεια IT» για να απαντήσετε ναι ή όχι.

## help page

help-page-title = Βοήθεια IT
help-for-device = Βοήθεια για τον υπολογιστή { $device }
help-signed-in-as = Είστε ο χρήστης { $person }.
help-health-heading = Πώς είναι ο υπολογιστής
help-health-good = Όλα όσα ελέγχουμε είναι εντάξει.
help-area-storage = Αποθήκευση
help-area-network = Δίκτυο
help-area-memory = Μνήμη
help-area-battery = Μπαταρία
help-area-updates = Ενημερώσεις
help-area-performance = Ταχύτητα και θερμοκρασία
help-area-printing = Εκτύπωση
help-area-clock = Ρολόι
help-area-applications = Προγράμματα
help-area-services = Υπηρεσίες παρασκηνίου
help-area-security = Ασφάλεια
help-area-other = Άλλο
help-state-green = Εντάξει
help-state-amber = Χρειάζεται προσοχή
help-state-red = Δεν λειτουργεί
help-reason-storage = Ένας δίσκος είναι σχεδόν γεμάτος ή τα αρχεία δεν αποθηκεύονται.
help-reason-network = Ένα μέρος της σύνδεσης δικτύου δεν λειτουργεί.
help-reason-memory = Η μνήμη του υπολογιστή τελειώνει.
help-reason-battery = Η μπαταρία χρειάζεται προσοχή.
help-reason-updates = Υπάρχουν ενημερώσεις σε αναμονή ή ο υπολογιστής χρειάζεται επανεκκίνηση.
help-reason-performance = Ο υπολογιστής είναι πολύ απασχολημένος ή ζεσταίνεται πολύ.
help-reason-printing = Δεν υπάρχει σύνδεση με έναν εκτυπωτή.
help-reason-clock = Το ρολόι του υπολογιστή είναι λάθος και αυτό μπορεί να εμποδίσει τη σύνδεση.
help-reason-applications = Ένα πρόγραμμα κλείνει συνέχεια απροσδόκητα.
help-reason-services = Μια υπηρεσία παρασκηνίου σταμάτησε.
help-reason-security = Μια ρύθμιση ασφαλείας χρειάζεται προσοχή.
help-reason-other = Κάτι χρειάζεται προσοχή· το τμήμα IT βλέπει τις λεπτομέρειες.
help-it-knows = Το τμήμα IT το γνωρίζει ήδη.
help-outages-heading = Γνωστά προβλήματα
help-outage = { $count ->
    [one] Το τμήμα IT γνωρίζει ένα πρόβλημα με { $what } σε αυτόν τον υπολογιστή και το φροντίζει· δεν χρειάζεται να το αναφέρετε.
   *[other] Πολλοί συνάδελφοι { $where } έχουν πρόβλημα με { $what }. Το τμήμα IT το φροντίζει ήδη· δεν χρειάζεται να το αναφέρετε.
}
help-outage-where-site = στο γραφείο { $site }
help-outage-where-network = στο ίδιο δίκτυο
help-outage-where-any = στην εταιρεία
help-report-heading = Περιγράψτε το πρόβλημα με δικά σας λόγια
help-report-hint = Για παράδειγμα: «δεν μπορώ να εκτυπώσω», «το ίντερνετ είναι αργό», «το Outlook κλείνει συνέχεια».
help-report-send = Έλεγξε τον υπολογιστή μου και ενημέρωσε το IT
help-report-empty = Γράψτε πρώτα λίγα λόγια για το πρόβλημα.
help-report-too-long = Το κείμενο είναι πολύ μεγάλο (το πολύ { $max } χαρακτήρες). Παρακαλούμε γράψτε το πιο σύντομα.
help-report-busy = Ο υπολογιστής σας έχει ήδη αρκετούς ελέγχους σε αναμονή. Περιμένετε λίγα λεπτά και δοκιμάστε ξανά.
help-report-offline = Ο υπολογιστής σας δεν είναι συνδεδεμένος με το τμήμα IT αυτή τη στιγμή, οπότε δεν μπορεί να ελεγχθεί. Δοκιμάστε ξανά σε λίγα λεπτά ή τηλεφωνήστε στο τμήμα IT.
help-checking = Ελέγχουμε τον υπολογιστή σας…
help-checking-detail = Συνήθως διαρκεί λιγότερο από ένα λεπτό. Η σελίδα ενημερώνεται μόνη της.
help-result-heading = Τι βρήκαμε
help-advice-heading = Τι να κάνετε τώρα
help-result-failed = Ο έλεγχος δεν ολοκληρώθηκε: { $why }
help-result-expired = Ο υπολογιστής σας δεν απάντησε εγκαίρως. Δοκιμάστε ξανά όταν είναι αναμμένος και συνδεδεμένος.
help-ticket-number = Ο αριθμός του αιτήματός σας είναι #{ $ticket }. Το τμήμα IT το έχει· δεν χρειάζεται να το στείλετε ξανά.
help-ticket-waiting = Το τμήμα IT έλαβε την αναφορά σας· ο αριθμός του αιτήματος θα εμφανιστεί εδώ σε λίγο.
help-known-outage = Είναι γνωστό πρόβλημα: το τμήμα IT ήδη το φροντίζει.
help-requests-heading = Τα αιτήματά σας
help-requests-none = Δεν έχετε αναφέρει ακόμα κάτι από αυτόν τον υπολογιστή.
help-request-line = #{ $ticket }: { $title }
help-opened = Αναφέρθηκε { $when }
help-reply-from = Απάντηση από το τμήμα IT
help-your-answer = Η απάντησή σας
help-status-new = Παραλήφθηκε
help-status-assigned = Το έχει αναλάβει τεχνικός
help-status-in_progress = Σε εξέλιξη
help-status-pending = Σε αναμονή
help-status-resolved = Λύθηκε
help-status-closed = Έκλεισε
help-status-cancelled = Ακυρώθηκε
help-fixed-question = Το τμήμα IT λέει ότι το πρόβλημα λύθηκε. Λειτουργεί ξανά;
help-fixed-yes = Ναι, λειτουργεί
help-fixed-no = Όχι, ακόμα δεν λειτουργεί
help-fixed-words = Αν ακόμα δεν λειτουργεί, τι συμβαίνει τώρα;
help-rating-question = Πόσο ικανοποιημένοι είστε από τη βοήθεια; (προαιρετικό)
help-rating-1 = 1 – καθόλου ικανοποιημένος
help-rating-5 = 5 – πολύ ικανοποιημένος
help-answer-thanks-fixed = Ευχαριστούμε. Κλείσαμε το αίτημα.
help-answer-thanks-broken = Ευχαριστούμε. Ανοίξαμε ξανά το αίτημα και το τμήμα IT θα το εξετάσει πάλι.
help-language = Γλώσσα
help-link-invalid-title = Αυτός ο σύνδεσμος δεν λειτουργεί πια
help-link-invalid = Οι σύνδεσμοι της «Βοήθειας IT» λειτουργούν μία φορά και μόνο για λίγα λεπτά. Ανοίξτε ξανά τη «Βοήθεια IT» από το μενού.
help-session-over = Η σελίδα βοήθειας έκλεισε. Ανοίξτε ξανά τη «Βοήθεια IT» από το μενού.
help-page-refused = Η σελίδα δεν μπόρεσε να σταλεί από εδώ. Ανανεώστε τη σελίδα και δοκιμάστε ξανά.
help-not-yours = Αυτό δεν είναι δικό σας αίτημα.

## mail

mail-reply-subject = [#{ $ticket }] Το τμήμα IT απάντησε στο αίτημά σας
mail-reply-body = Το τμήμα IT απάντησε στο αίτημά σας #{ $ticket }:

    { $text }

    Μπορείτε να απαντήσετε ή να δείτε το αίτημα στη σελίδα βοήθειας: ανοίξτε τη «Βοήθεια IT» στον υπολογιστή σας.
mail-resolved-subject = [#{ $ticket }] Το αίτημά σας λύθηκε: λειτουργεί ξανά;
mail-resolved-body = Το τμήμα IT λέει ότι το αίτημά σας #{ $ticket } λύθηκε.

    Λειτουργεί ξανά; Ανοίξτε τη «Βοήθεια IT» στον υπολογιστή σας και απαντήστε «Ναι, λειτουργεί» ή «Όχι, ακόμα δεν λειτουργεί». Αν ακόμα δεν λειτουργεί, θα ανοίξουμε ξανά το αίτημα.

## outage notices

notice-outage-title = Το τμήμα IT γνωρίζει ένα πρόβλημα που επηρεάζει τον υπολογιστή σας
notice-outage-ended-title = Ένα πρόβλημα που φρόντιζε το τμήμα IT διορθώθηκε
notice-outage-ended-body = Το { $what } θα πρέπει να λειτουργεί ξανά. Αν ακόμα δεν λειτουργεί, ανοίξτε τη «Βοήθεια IT» και πείτε μας.
