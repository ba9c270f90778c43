# The staff workspace's words (Greek): the queue, tickets, devices, search and ticket titles,
# for support technicians. Every message here is in every language (a test says so); ids
# start with `staff-` (pages) or `title-` (ticket titles made from a finding's evidence).

staff-language = Γλώσσα
staff-language-browser = Όπως ο φυλλομετρητής
staff-language-unknown = Το «{ $value }» δεν είναι γλώσσα που μιλά το Firstline: επιλέξτε English, 中文, Polski ή Ελληνικά.
staff-time-zone = Ζώνη ώρας
staff-time-zone-browser = Όπως ο φυλλομετρητής
staff-time-zone-unknown = Το «{ $value }» δεν είναι όνομα ζώνης ώρας: χρησιμοποιήστε π.χ. Europe/Athens ή αφήστε το κενό για τη ζώνη του φυλλομετρητή.
staff-preferences-heading = Πώς εμφανίζεται ο χώρος εργασίας
staff-preferences-saved = Αποθηκεύτηκε: οι σελίδες εμφανίζονται πλέον σε αυτή τη γλώσσα και ζώνη ώρας.
staff-save = Αποθήκευση

## the frame around every page
staff-nav-queue = Ουρά
staff-nav-devices = Συσκευές
staff-nav-knowledge = Γνωσιακή βάση
staff-nav-stats = Στατιστικά
staff-nav-account = Λογαριασμός
staff-search = Αναζήτηση
staff-search-placeholder = Αναζήτηση αιτημάτων, συσκευών, ατόμων… (/)
staff-sign-out = Αποσύνδεση
staff-role-technician = τεχνικός
staff-role-supervisor = επόπτης
staff-role-admin = διαχειριστής
staff-problem = Πρόβλημα
staff-store-unavailable = Η αποθήκη δεδομένων του συλλέκτη δεν είναι διαθέσιμη: η σελίδα δεν μπορεί να εμφανιστεί τώρα. Δοκιμάστε ξανά σε ένα λεπτό.

## times
staff-ago = { $unit ->
    [s] πριν από { $count } δευτ.
    [min] πριν από { $count } λεπτ.
    [h] { $count ->
        [one] πριν από { $count } ώρα
       *[other] πριν από { $count } ώρες
    }
   *[d] { $count ->
        [one] πριν από { $count } ημέρα
       *[other] πριν από { $count } ημέρες
    }
}
staff-due-in = { $unit ->
    [s] σε { $count } δευτ.
    [min] σε { $count } λεπτ.
    [h] { $count ->
        [one] σε { $count } ώρα
       *[other] σε { $count } ώρες
    }
   *[d] { $count ->
        [one] σε { $count } ημέρα
       *[other] σε { $count } ημέρες
    }
}
staff-due-late = { $unit ->
    [s] καθυστέρηση { $count } δευτ.
    [min] καθυστέρηση { $count } λεπτ.
    [h] { $count ->
        [one] καθυστέρηση { $count } ώρα
       *[other] καθυστέρηση { $count } ώρες
    }
   *[d] { $count ->
        [one] καθυστέρηση { $count } ημέρα
       *[other] καθυστέρηση { $count } ημέρες
    }
}
staff-never = ποτέ

## the queue
staff-queue-heading = Ουρά
staff-queue-empty = Τίποτα εδώ: κανένα αίτημα δεν ταιριάζει.
staff-queue-truncated = Εμφανίζονται τα πρώτα { $count } αιτήματα: περιορίστε τα φίλτρα για να δείτε τα υπόλοιπα.
staff-queue-keys = Πλήκτρα: j/k μετακίνηση · x επιλογή · o άνοιγμα · a ανάθεση · r επίλυση · / αναζήτηση
staff-ticket-count = { $count ->
    [one] { $count } αίτημα
   *[other] { $count } αιτήματα
}
staff-view-open = Όλα τα ανοιχτά
staff-view-mine = Τα αιτήματά μου
staff-view-unassigned-urgent = Χωρίς ανάθεση P1–P2
staff-view-breaching = Λήγουν εντός 1 ώρας
staff-view-reported = Από αναφορές χρηστών
staff-col-id = #
staff-col-priority = Προτεραιότητα
staff-col-what = Τι
staff-col-who = Συσκευές και χρήστης
staff-col-site = Τοποθεσία
staff-col-age = Ηλικία
staff-col-sla = SLA
staff-col-updated = Ενημέρωση
staff-col-assignee = Ανάθεση
staff-col-state = Κατάσταση
staff-unassigned = Χωρίς ανάθεση
staff-device-count = { $count ->
    [one] { $count } συσκευή
   *[other] { $count } συσκευές
}
staff-select-all = Επιλογή όλων των εμφανιζόμενων αιτημάτων
staff-state-open = Ανοιχτό
staff-state-new = Νέο
staff-state-assigned = Ανατέθηκε
staff-state-in_progress = Σε εξέλιξη
staff-state-pending = Σε αναμονή
staff-state-resolved = Επιλύθηκε
staff-state-closed = Κλειστό
staff-state-cancelled = Ακυρώθηκε
staff-kind-device = Συσκευή
staff-kind-incident = Συμβάν
staff-kind-report = Αναφορά χρήστη

## filters
staff-filter-view = Προβολή
staff-filter-state = Κατάσταση
staff-filter-priority = Προτεραιότητα
staff-filter-tier = Επίπεδο
staff-filter-kind = Είδος
staff-filter-assignee = Ανάθεση
staff-filter-site = Τοποθεσία
staff-filter-check = Έλεγχος
staff-filter-sort = Σειρά
staff-filter-health = Υγεία
staff-filter-any = Όλα
staff-filter-apply = Φιλτράρισμα
staff-filter-clear = Καθαρισμός
staff-filter-bad = { $field } «{ $value }» δεν υπάρχει: επιλέξτε από { $valid }. Η λίστα εμφανίζεται χωρίς αυτό.

## actions on selected tickets
staff-bulk-selected = Με τα επιλεγμένα αιτήματα:
staff-bulk-assign-to = Ανάθεση σε…
staff-bulk-assign = Ανάθεση
staff-bulk-note-placeholder = Εσωτερική σημείωση
staff-bulk-note = Προσθήκη σημείωσης
staff-bulk-solution-placeholder = Τι το διόρθωσε
staff-bulk-resolve = Επίλυση
staff-bulk-done-assign = { $count ->
    [one] Ανατέθηκε { $count } αίτημα.
   *[other] Ανατέθηκαν { $count } αιτήματα.
}
staff-bulk-done-comment = { $count ->
    [one] Προστέθηκε σημείωση σε { $count } αίτημα.
   *[other] Προστέθηκε σημείωση σε { $count } αιτήματα.
}
staff-bulk-done-resolve = { $count ->
    [one] Επιλύθηκε { $count } αίτημα.
   *[other] Επιλύθηκαν { $count } αιτήματα.
}
staff-bulk-merge-placeholder = Στο αίτημα #
staff-bulk-merge = Συγχώνευση
staff-bulk-done-merge = { $count ->
    [one] Συγχωνεύτηκε { $count } αίτημα.
   *[other] Συγχωνεύτηκαν { $count } αιτήματα.
}
staff-bulk-none-selected = Δεν επιλέχθηκε αίτημα: επιλέξτε πρώτα τα αιτήματα και μετά την ενέργεια.
staff-bulk-bad-ticket = Το «{ $value }» δεν είναι αριθμός αιτήματος.
staff-bulk-bad-action = Το «{ $value }» δεν είναι ενέργεια για επιλεγμένα αιτήματα: ανάθεση, σημείωση, επίλυση ή συγχώνευση.
staff-bulk-too-many = Επιλέχθηκαν { $count } αιτήματα· μία ενέργεια δέχεται έως { $limit }.
staff-bulk-result = Ορισμένα αιτήματα δεν άλλαξαν
staff-bulk-partly = Άλλαξαν { $done }, απορρίφθηκαν { $refused }:
staff-back-to-queue = Επιστροφή στην ουρά

## devices
staff-devices-heading = Συσκευές
staff-devices-find = Εύρεση
staff-devices-find-placeholder = Όνομα, χρήστης, τοποθεσία ή λειτουργικό
staff-filter-page = Σελίδα
staff-page-of = Σελίδα { $page } από { $pages }
staff-page-previous = ← Προηγούμενη
staff-page-next = Επόμενη →
staff-devices-count = { $shown } από { $total } συσκευές
staff-devices-none = Καμία συσκευή δεν ταιριάζει.
staff-col-device = Συσκευή
staff-col-health = Υγεία
staff-col-user = Χρήστης
staff-col-last-seen = Τελευταία επαφή
staff-col-agent = Πράκτορας
staff-col-open-tickets = Ανοιχτά αιτήματα
staff-health-problems = Προβλήματα
staff-health-firing = { $count ->
    [one] { $count } πρόβλημα
   *[other] { $count } προβλήματα
}
staff-health-offline = Εκτός σύνδεσης
staff-health-healthy = Υγιής
staff-health-revoked = Ανακλήθηκε

## a ticket
staff-ticket-missing = Δεν υπάρχει τέτοιο αίτημα.
staff-ticket-priority-why = επίδραση { $impact }, επείγον { $urgency }
staff-level-high = υψηλή
staff-level-medium = μεσαία
staff-level-low = χαμηλή
staff-ticket-opened = Άνοιξε
staff-ticket-response-due = Προθεσμία απόκρισης
staff-ticket-resolution-due = Προθεσμία επίλυσης
staff-ticket-requester = Αιτών
staff-ticket-affected-users = Επηρεαζόμενοι χρήστες
staff-ticket-resolution = Επίλυση
staff-ticket-systems = Συστήματα αιτημάτων
staff-sync-not-yet = δεν δημιουργήθηκε ακόμη
staff-sync-waiting = { $count ->
    [one] 1 αλλαγή σε αναμονή
   *[other] { $count } αλλαγές σε αναμονή
}
staff-sync-closed-there = έκλεισε εκεί
staff-sync-in-step = συγχρονισμένο
staff-ticket-problem-candidate = Επαναλαμβάνεται: υποψήφιο πρόβλημα
staff-ticket-known-fixes = Γνωστές λύσεις
staff-ticket-no-known-fixes = Καμία ακόμη: η λύση που θα δώσετε κατά την επίλυση θα προταθεί την επόμενη φορά.
staff-ticket-added = Προστέθηκε
staff-ticket-recovered = Αποκαταστάθηκε
staff-ticket-actions = Ενέργειες
staff-ticket-reply-to = Απάντηση στον/στην { $person } (τη βλέπει στη σελίδα βοήθειας, ως ειδοποίηση και με e-mail)
staff-ticket-send-reply = Αποστολή απάντησης
staff-ticket-note = Εσωτερική σημείωση (μόνο για το προσωπικό)
staff-ticket-solution = Λύση (τι το διόρθωσε)
staff-ticket-escalate-why = Γιατί κλιμάκωση
staff-ticket-escalate = Κλιμάκωση
staff-ticket-waiting-for = Αναμονή για
staff-ticket-set-pending = Σε αναμονή
staff-ticket-start = Έναρξη εργασίας
staff-ticket-cancel = Ακύρωση αιτήματος
staff-ticket-reopen = Επανάνοιγμα
staff-ticket-close = Κλείσιμο
staff-ticket-playbook = Σενάριο
staff-ticket-target = Στόχος
staff-ticket-reproduce = Αναπαραγωγή τώρα
staff-ticket-merge = Συγχώνευση σε αίτημα
staff-ticket-merge-into = Αριθμός αιτήματος ή ανοιχτό περιστατικό
staff-ticket-merge-explain = Οι συσκευές, οι καταστάσεις και οι αναφέροντες μεταφέρονται σε εκείνο το αίτημα· αυτό ακυρώνεται ως συγχωνευμένο.
staff-ticket-reproduce-on = Σε ποιες από τις συσκευές του
staff-ticket-reproduce-choose = Επιλέξτε τουλάχιστον μία συσκευή του περιστατικού για να εκτελεστεί.
staff-ticket-reproduce-queued = { $count ->
    [one] Ζητήθηκε από { $count } συσκευή να το αναπαραγάγει: το αποτέλεσμα εμφανίζεται στο χρονολόγιο.
   *[other] Ζητήθηκε από { $count } συσκευές να το αναπαραγάγουν: τα αποτελέσματα εμφανίζονται στο χρονολόγιο.
}
staff-ticket-timeline = Χρονολόγιο
staff-ticket-when = Πότε
staff-ticket-details = Λεπτομέρειες
staff-playbook-web = Ιστότοπος ή διαδικτυακή εφαρμογή
staff-playbook-network = Το δίκτυο
staff-playbook-slow = Αργή λειτουργία
staff-playbook-disk = Δίσκος και αποθήκευση αρχείων
staff-playbook-crash = Κατάρρευση προγράμματος
staff-playbook-printing = Εκτύπωση
staff-playbook-email = Ηλεκτρονικό ταχυδρομείο
staff-playbook-clock = Το ρολόι
staff-playbook-health = Γενική κατάσταση

## a device
staff-device-missing = Δεν υπάρχει τέτοια συσκευή.
staff-device-os = Λειτουργικό
staff-device-cpu = Επεξεργαστής
staff-device-cores = { $count ->
    [one] { $count } πυρήνας
   *[other] { $count } πυρήνες
}
staff-device-memory = Μνήμη
staff-device-connected = Συνδεδεμένη
staff-yes = ναι
staff-no = όχι
staff-unknown = άγνωστο
staff-device-over-budget = Πάνω από το όριο
staff-device-over-budget-note = Αυτή η συσκευή: { $note }. Ο πράκτοράς της ή η ρύθμισή της μπορεί να είναι χαλασμένα, ή δεν είναι αυτό που δηλώνει.
staff-config = Ρυθμίσεις
staff-config-should-run = Ρυθμίσεις στόλου
staff-config-runs = Σε λειτουργία
staff-config-local = μόνο το τοπικό αρχείο
staff-config-not-said = δεν έχει αναφερθεί ακόμη
staff-config-refused = Απορρίφθηκε
staff-device-conditions = Τρέχουσες καταστάσεις
staff-device-resource = Πόρος
staff-device-since = Από
staff-device-summary = Σύνοψη
staff-device-history = Ιστορικό υγείας
staff-device-history-chart = Προβλήματα ανά έλεγχο (τελευταία 500 ευρήματα)
staff-device-severity = Σοβαρότητα
staff-device-finding = Εύρημα
staff-device-tickets = Αιτήματα
staff-device-users = Χρήστες
staff-device-no-session = Κανείς δεν είναι συνδεδεμένος σε αυτήν τώρα.
staff-device-account = Λογαριασμός
staff-device-session = Συνεδρία
staff-device-where = Πού
staff-device-from = { $line } από { $host }
staff-device-last-login = Τελευταία σύνδεση
staff-agent-health = Υγεία πράκτορα
staff-agent-health-none = Δεν έχει αναφερθεί ακόμη: οι πράκτορες την αναφέρουν με τα σήματα ζωής τους.
staff-agent-check-cycle = Κύκλος ελέγχων
staff-agent-memory = Μνήμη σε χρήση
staff-agent-outbox = Εξερχόμενα
staff-agent-outbox-depth = { $count ->
    [one] { $count } εύρημα σε αναμονή
   *[other] { $count } ευρήματα σε αναμονή
}
staff-agent-reported = Αναφέρθηκε

## search
staff-search-words = Λέξεις
staff-search-kind-tickets = Αιτήματα
staff-search-kind-devices = Συσκευές
staff-search-kind-people = Άτομα
staff-search-kind-knowledge = Γνωσιακή βάση
staff-search-hint = Πληκτρολογήστε λίγες λέξεις: όνομα ατόμου, όνομα υπολογιστή, σφάλμα, τοποθεσία. Κάθε λέξη πρέπει να ταιριάζει· η τελευταία μπορεί να είναι η αρχή μιας λέξης.
staff-search-too-long = Το πολύ { $limit } χαρακτήρες.
staff-search-nothing = Δεν βρέθηκε τίποτα για «{ $words }». Δοκιμάστε λιγότερες λέξεις ή ελέγξτε την ορθογραφία.

## knowledge
staff-fix-worked = { $count ->
    [one] βοήθησε { $count } φορά
   *[other] βοήθησε { $count } φορές
}
staff-knowledge-heading = Γνωσιακή βάση
staff-knowledge-placeholder = δίσκος, dns, outlook…
staff-knowledge-write = Γράψτε ένα άρθρο
staff-knowledge-write-for-ticket = Γράψτε ένα άρθρο για αυτό το σφάλμα
staff-knowledge-edit = Επεξεργασία άρθρου
staff-knowledge-articles = Άρθρα
staff-knowledge-no-articles = Κανένα άρθρο δεν ταιριάζει ακόμη. Γράψτε ένα: θα προτείνεται σε κάθε αίτημα για τους ελέγχους και τα σφάλματα που αναφέρει.
staff-knowledge-none-for-ticket = Κανένα άρθρο δεν απαντά ακόμη σε αυτό το σφάλμα.
staff-knowledge-solutions = Τι βοήθησε παλιότερα
staff-knowledge-no-solutions = Δεν βρέθηκε τίποτα. Οι λύσεις εμφανίζονται εδώ όταν τα αιτήματα επιλύονται με μία.
staff-knowledge-missing = Δεν υπάρχει τέτοιο άρθρο.
staff-knowledge-written-by = Συντάκτης: { $author }, τελευταία αλλαγή: { $editor }
staff-knowledge-checks = Έλεγχοι
staff-knowledge-fingerprints = Σφάλματα
staff-knowledge-title = Τίτλος
staff-knowledge-body = Κείμενο
staff-knowledge-markdown = Markdown: **έντονα**, *πλάγια*, `κώδικας`, λίστες με -, σύνδεσμοι ως [λέξεις](https://…). Η HTML εμφανίζεται ως κείμενο.
staff-knowledge-checks-hint = Έλεγχοι στους οποίους απαντά (η αρχή των ονομάτων τους, με κενά: dns. disk.free_low)
staff-knowledge-fingerprints-hint = Σφάλματα στα οποία απαντά (αποτυπώματα από ένα αίτημα, με κενά)
staff-knowledge-title-empty = Το άρθρο χρειάζεται τίτλο.
staff-knowledge-title-long = Ο τίτλος είναι πολύ μεγάλος: το πολύ { $limit } χαρακτήρες.
staff-knowledge-body-empty = Το άρθρο χρειάζεται κείμενο.
staff-knowledge-body-long = Το κείμενο είναι πολύ μεγάλο: το πολύ { $limit } byte.
staff-knowledge-too-many-links = Ένα άρθρο συνδέεται με το πολύ { $limit } ελέγχους και { $limit } σφάλματα.
staff-knowledge-bad-check = Το «{ $value }» δεν είναι η αρχή ονόματος ελέγχου: χρησιμοποιήστε πεζά λατινικά, ψηφία, τελείες, παύλες και κάτω παύλες, π.χ. dns. ή disk.free_low.
staff-knowledge-delete-who = Μόνο επόπτης ή διαχειριστής μπορεί να διαγράψει άρθρο.
staff-delete = Διαγραφή
staff-replies-heading = Έτοιμες απαντήσεις
staff-replies-none = Δεν υπάρχουν ακόμη έτοιμες απαντήσεις: οι διαχειριστές τις προσθέτουν εδώ.
staff-replies-add = Προσθήκη ή αλλαγή έτοιμης απάντησης
staff-replies-text = Τι λέει
staff-replies-same-title = Μια απάντηση με τον ίδιο τίτλο αντικαθιστά την παλιά.
staff-replies-who = Μόνο διαχειριστής μπορεί να αλλάξει τις έτοιμες απαντήσεις.
staff-replies-bad = Μια έτοιμη απάντηση χρειάζεται τίτλο (έως 200 χαρακτήρες) και κείμενο.

## account
staff-password-heading = Αλλαγή κωδικού
staff-password-current = Τρέχων κωδικός
staff-password-new = Νέος κωδικός (τουλάχιστον { $count } χαρακτήρες)
staff-password-again = Ξανά ο νέος κωδικός
staff-password-sessions = Οι άλλες συνεδρίες σας τερματίζονται· αυτή συνεχίζεται.
staff-password-change = Αλλαγή κωδικού
staff-password-differ = Οι δύο νέοι κωδικοί διαφέρουν· δεν άλλαξε τίποτα.
staff-password-changed = Ο κωδικός άλλαξε. Οι άλλες συνεδρίες σας τερματίστηκαν.

## sign-in
staff-sign-in = Σύνδεση
staff-sign-in-name = Όνομα
staff-sign-in-password = Κωδικός
staff-sign-in-again = Δοκιμάστε ξανά
staff-sign-in-wrong = Λάθος όνομα ή κωδικός.
staff-sign-in-too-many = { $minutes ->
    [one] Πάρα πολλές αποτυχημένες συνδέσεις· δοκιμάστε ξανά σε ένα λεπτό.
   *[other] Πάρα πολλές αποτυχημένες συνδέσεις· δοκιμάστε ξανά σε { $minutes } λεπτά.
}
staff-sign-in-plain-http = Αυτή η σελίδα ήρθε μέσω απλού HTTP: ο κωδικός σας θα διέσχιζε το δίκτυο χωρίς κρυπτογράφηση. Ζητήστε από τον διαχειριστή να σερβίρει τον συλλέκτη μέσω HTTPS (αντίστροφος διακομιστής μεσολάβησης TLS) και να ορίσει το public_url στη διεύθυνση https:// του.
staff-search-unreadable = Η αναζήτηση χρειάζεται γράμματα ή ψηφία και το πολύ { $limit } λέξεις.

## the stats page (supervisors)
staff-span = { $unit ->
    [s] { $count } δευτ.
    [min] { $count } λεπτ.
    [h] { $count ->
        [one] { $count } ώρα
       *[other] { $count } ώρες
    }
   *[d] { $count ->
        [one] { $count } ημέρα
       *[other] { $count } ημέρες
    }
}
staff-chart-empty = { $title }: τίποτα ακόμη.
staff-stats-supervisors-only = Τα στατιστικά είναι για επόπτες: ζητήστε από έναν διαχειριστή τον ρόλο του επόπτη.
staff-stats-heading = Στατιστικά, τελευταίες { $days } ημέρες
staff-stats-period = Περίοδος
staff-stats-opened = Αιτήματα που άνοιξαν
staff-stats-findings = Ευρήματα που ελήφθησαν
staff-stats-compression = Συμπίεση θορύβου
staff-stats-compression-value = { $ratio } ευρήματα ανά αίτημα
staff-stats-resolved = Επιλύθηκαν
staff-stats-auto-resolved = Επιλύθηκαν από μόνα τους
staff-stats-per-category = Αιτήματα ανά κατηγορία
staff-stats-per-site = Αιτήματα ανά τοποθεσία
staff-stats-per-technician = Αιτήματα ανά τεχνικό
staff-stats-by-age = Ανοιχτά αιτήματα ανά ηλικία
staff-stats-age-under_1h = κάτω από 1 ώρα
staff-stats-age-under_1d = κάτω από 1 ημέρα
staff-stats-age-under_1w = κάτω από 1 εβδομάδα
staff-stats-age-older = παλαιότερα
staff-stats-times = Χρόνοι απόκρισης και επισκευής
staff-stats-col-opened = Άνοιξαν
staff-stats-mtta-median = Χρόνος ανάληψης, διάμεσος
staff-stats-mtta-p90 = Χρόνος ανάληψης, 90ό εκατοστημόριο
staff-stats-mttr-median = Χρόνος επίλυσης, διάμεσος
staff-stats-mttr-p90 = Χρόνος επίλυσης, 90ό εκατοστημόριο
staff-stats-response-met = Τήρηση SLA απόκρισης
staff-stats-resolution-met = Τήρηση SLA επίλυσης
staff-stats-recurring = Τα συχνότερα επαναλαμβανόμενα προβλήματα
staff-stats-fingerprint = Βλάβη
staff-stats-tickets = Αιτήματα
staff-stats-problem-candidate = υποψήφιο πρόβλημα
staff-stats-people = Οι άνθρωποι στη διαδικασία
staff-stats-reports = Αναφορές χρηστών
staff-stats-reports-value = { $reports } ({ $joined } προστέθηκαν στο ανοιχτό αίτημα του αιτούντος)
staff-stats-found-first = Εντοπίστηκαν πριν αναφερθούν
staff-stats-found-first-value = { $share } ({ $found } από { $reports } αναφορές: όταν ήρθε η αναφορά, ένας έλεγχος είχε ήδη ανοιχτό αίτημα για τη συσκευή και τον τομέα ή την εξηγούσε ένα περιστατικό)
staff-stats-unreported = Άνοιξαν από ελέγχους, δεν αναφέρθηκαν ποτέ
staff-stats-unreported-value = { $share } ({ $count } από τα αιτήματα που άνοιξαν: καμία αναφορά χρήστη δεν συνδέθηκε με αυτά ούτε εξηγήθηκε από αυτά)
staff-stats-outage = Απαντήθηκαν από γνωστή διακοπή
staff-stats-outage-value = { $count } ({ $share } των αναφορών: τις εξήγησε ένα ανοιχτό περιστατικό, ο χρήστης ενημερώθηκε)
staff-stats-fixed = Αιτούντες που επιβεβαίωσαν «διορθώθηκε»
staff-stats-fixed-value = { $share } ({ $fixed } από { $answers } που απάντησαν, τελευταία απάντηση ανά αίτημα)
staff-stats-csat = Ικανοποίηση (CSAT)
staff-stats-csat-value = { $average } στα 5 ({ $ratings } βαθμολογίες)
staff-stats-csat-none = — (καμία βαθμολογία)
staff-stats-fixes = Διορθώσεις
staff-stats-runs = Εκτελέσεις
staff-stats-runs-value = επαληθευμένες { $verified }, μη επαληθευμένες { $not_verified }, αποτυχημένες { $failed }, απορρίφθηκαν από τη συσκευή { $refused }, σε αναμονή { $waiting }
staff-stats-verified-rate = Ποσοστό επαληθευμένων διορθώσεων
staff-stats-verified-rate-value = { $rate } (από όσες εκτελέστηκαν: ο έλεγχος που βρήκε τη βλάβη δεν τη βρίσκει πια)
staff-stats-self-healed = Αυτοΐάσεις
staff-stats-self-healed-value = { $share } (των επιλυμένων αιτημάτων: τα επέλυσε αυτόματη διόρθωση, επαληθευμένη)
staff-stats-time-to-fix = Χρόνος διόρθωσης
staff-stats-time-to-fix-value = αυτόματα { $auto }, από άνθρωπο { $person } (διάμεσος, από το άνοιγμα του αιτήματος ως την επαληθευμένη διόρθωση)

## the ticket's fixes
staff-fixes = Διορθώσεις
staff-fixes-none = Καμία διόρθωση του πράκτορα δεν αντιστοιχεί σε αυτή τη βλάβη.
staff-fixes-record = (πέτυχε { $worked } από { $tried } φορές)
staff-fixes-devices = σε { $count } συσκευές, πρώτα σε λίγες
staff-fixes-running = { $fix } εκτελείται
staff-fixes-apply = Εφαρμογή { $fix }
staff-fixes-interface = Σύνδεση δικτύου
staff-fixes-ask-user = Η { $fix } χρειάζεται τη συγκατάθεση του χρήστη στη σελίδα βοήθειάς του
staff-fixes-off = Η { $fix } είναι απενεργοποιημένη από την πολιτική
staff-fixes-mode-auto = αυτόματα
staff-fixes-mode-approve = με έγκριση τεχνικού
staff-fixes-mode-ask-user = με συγκατάθεση του χρήστη
staff-fixes-mode-off = ανενεργή
staff-fixes-col-fix = Διόρθωση
staff-fixes-col-device = Συσκευή
staff-fixes-col-allowed-by = Εγκρίθηκε από
staff-fixes-col-state = Κατάσταση
staff-fixes-col-asked = Ζητήθηκε
staff-fixes-col-answered = Απαντήθηκε
staff-fixes-canary = πιλοτική
staff-fix-state-queued = σε αναμονή
staff-fix-state-sent = στάλθηκε στη συσκευή
staff-fix-state-verified = επαληθεύτηκε
staff-fix-state-not_verified = δεν επαληθεύτηκε
staff-fix-state-failed = απέτυχε
staff-fix-state-refused = απορρίφθηκε από τη συσκευή
staff-fix-state-expired = έληξε
staff-fix-state-cancelled = ακυρώθηκε

## timeline entry kinds
staff-event-opened = Άνοιγμα
staff-event-state = Κατάσταση
staff-event-evidence = Στοιχεία
staff-event-device = Συσκευή
staff-event-priority = Προτεραιότητα
staff-event-escalation = Κλιμάκωση
staff-event-sla = SLA
staff-event-comment = Σημείωση
staff-event-assignment = Ανάθεση
staff-event-flapping = Αστάθεια
staff-event-stale = Σιωπηλή συσκευή
staff-event-known-fix = Γνωστή λύση
staff-event-problem = Πρόβλημα
staff-event-merge = Συγχώνευση
staff-event-related = Σχετικό
staff-event-report = Αναφορά χρήστη
staff-event-reproduce = Αναπαραγωγή
staff-event-notification = Ειδοποίηση
staff-event-sync = Σύστημα αιτημάτων
staff-event-reply = Απάντηση
staff-event-requester-answer = Απάντηση αιτούντος
staff-event-fix = Διόρθωση

## fleet configuration (admins)
staff-nav-fleet = Στόλος
staff-fleet-admins-only = Οι ρυθμίσεις του στόλου είναι για διαχειριστές.
staff-fleet-heading = Ρυθμίσεις στόλου
staff-fleet-explain = Οι πολιτικές ορίζουν ρυθμίσεις του πράκτορα (τα κλειδιά του agent.toml) για ομάδες συσκευών· όταν δύο ορίζουν το ίδιο κλειδί, υπερισχύει η υψηλότερη προτεραιότητα. Κάθε αλλαγή είναι νέα έκδοση· οι πράκτορες την εφαρμόζουν μέσα σε δευτερόλεπτα και λένε ποια έκδοση τρέχουν ή γιατί την απέρριψαν.
staff-fleet-policies = Πολιτικές
staff-fleet-name = Όνομα
staff-fleet-group = Ομάδα
staff-fleet-precedence = Προτεραιότητα
staff-fleet-version = Έκδοση
staff-fleet-updated = Αλλαγή
staff-fleet-rolling = σε διάθεση: { $canaries } πιλοτικές συσκευές, οι υπόλοιπες στην v{ $stable }
staff-fleet-rolling-long = Η έκδοση { $version } τρέχει μόνο σε { $canaries } πιλοτικές συσκευές· οι άλλες κρατούν την έκδοση { $stable } μέχρι να προωθηθεί.
staff-fleet-versions = Εκδόσεις στις συσκευές
staff-fleet-running = Τρέχουν
staff-fleet-refusing = Απέρριψαν
staff-fleet-groups = Ομάδες
staff-fleet-members = Συσκευές
staff-fleet-created-by = Δημιουργός
staff-fleet-rule-site = στην τοποθεσία { $site }
staff-fleet-rule-rule = όνομα { $pattern }, λειτουργικό { $os }
staff-fleet-rule-manual = { $count ->
    [one] { $count } συσκευή επιλεγμένη με το χέρι
   *[other] { $count } συσκευές επιλεγμένες με το χέρι
}
staff-fleet-new-group = Νέα ομάδα
staff-fleet-kind = Είδος
staff-fleet-kind-site = Ανά τοποθεσία
staff-fleet-kind-rule = Ανά όνομα και λειτουργικό
staff-fleet-kind-manual = Με το χέρι
staff-fleet-group-value = Τοποθεσία, μοτίβο ονόματος ή αναγνωριστικά συσκευών
staff-fleet-group-os = Το λειτουργικό περιέχει
staff-fleet-add = Προσθήκη
staff-fleet-new-policy = Νέα πολιτική
staff-fleet-settings = Ρυθμίσεις (agent.toml)
staff-fleet-note = Αιτία
staff-fleet-no-policy = Δεν υπάρχει τέτοια πολιτική.
staff-fleet-refused = Δεν αποθηκεύτηκε
staff-fleet-change = Αλλαγή
staff-fleet-canary = Πρώτα στις πιλοτικές συσκευές
staff-fleet-canary-percent = Ποσοστό των συσκευών της ομάδας (%)
staff-fleet-canary-group = Πιλοτική ομάδα
staff-fleet-bad-percent = Το «{ $value }» δεν είναι ποσοστό από 0 έως 100: δεν αποθηκεύτηκε τίποτα.
staff-fleet-save = Αποθήκευση ως νέα έκδοση
staff-fleet-promote = Προώθηση σε όλες τις συσκευές
staff-fleet-history = Εκδόσεις
staff-fleet-by = Από
staff-fleet-changes = Τι άλλαξε
staff-fleet-roll-back = Επαναφορά σε αυτή την έκδοση
