# Ticket titles, made from a finding's evidence by one function per check
# (collector/src/tickets/titles.rs), in words a technician would write. Ids start with
# `title-`; every message is in every language (a test says so).


## οποιοσδήποτε έλεγχος

title-summary = { $summary }
title-check-failing = Ο έλεγχος { $check } αποτυγχάνει
title-check-failing-on = Ο έλεγχος { $check } αποτυγχάνει για { $resource }

## dns.resolve

title-dns-not-found = Το { $name } δεν επιλύεται (ο διακομιστής DNS { $server } λέει ότι δεν υπάρχει)
title-dns-server-error = Το { $name } δεν επιλύεται (ο διακομιστής DNS { $server } απαντά { $code })
title-dns-no-answer = Το { $name } δεν επιλύεται (κανένας διακομιστής DNS δεν απαντά)
title-dns-unresolved = Το { $name } δεν επιλύεται

## https.reachable, tcp.connect

title-reach-no-name = Το { $target } δεν είναι προσβάσιμο: το όνομά του δεν επιλύεται
title-reach-refused = Το { $target } αρνείται τις συνδέσεις
title-reach-timeout = Το { $target } δεν απαντά (η σύνδεση λήγει)
title-reach-unreachable = Το { $target } δεν είναι προσβάσιμο
title-web-tls = { $target }: η ασφαλής σύνδεση (TLS) αποτυγχάνει
title-web-http-status = Το { $target } απαντά με σφάλμα (HTTP { $status })
title-web-no-answer = Το { $target } δεν απαντά ως ιστότοπος
title-web-bad-address = Η διεύθυνση ιστού του { $target } δεν είναι έγκυρη

## https.cert_expiry_days

title-cert-expired = Το πιστοποιητικό του { $target } έληξε πριν από { $days ->
    [one] { $days } ημέρα
   *[other] { $days } ημέρες
}
title-cert-expires = Το πιστοποιητικό του { $target } λήγει σε { $days ->
    [one] { $days } ημέρα
   *[other] { $days } ημέρες
}
title-cert-expires-today = Το πιστοποιητικό του { $target } λήγει σήμερα
title-cert-unreadable = Το πιστοποιητικό του { $target } δεν μπορεί να διαβαστεί

## δίσκος, μνήμη, επεξεργαστής, θερμοκρασία, μπαταρία, SMART

title-disk-full = Ο δίσκος { $disk } είναι γεμάτος κατά { $pct }%
title-disk-inodes = Ο δίσκος { $disk } έχει χρησιμοποιήσει το { $pct }% των θέσεων αρχείων (inodes)
title-memory-low = Μόνο το { $pct }% της μνήμης είναι ελεύθερο
title-swap-full = Η μνήμη swap χρησιμοποιείται κατά { $pct }%
title-cpu-busy = Ο επεξεργαστής είναι απασχολημένος κατά { $pct }%
title-cpu-busy-process = Ο επεξεργαστής είναι απασχολημένος κατά { $pct }%, κυρίως από το { $process }
title-thermal-hot = Το { $sensor } είναι στους { $celsius } °C
title-battery-worn = Η μπαταρία { $battery } κρατά μόνο το { $pct }% της αρχικής της χωρητικότητας
title-smart-failing = Ο δίσκος { $disk } χαλάει (SMART): πάρτε αντίγραφο ασφαλείας και αντικαταστήστε τον

## υπηρεσίες, επανεκκίνηση, ρολόι

title-service-missing = Η υπηρεσία { $service } δεν είναι εγκατεστημένη
title-service-failed = Η υπηρεσία { $service } απέτυχε
title-service-stopped = Η υπηρεσία { $service } δεν εκτελείται
title-reboot-pending = Χρειάζεται επανεκκίνηση για να ολοκληρωθεί η εγκατάσταση ενημερώσεων
title-clock-behind = Το ρολόι πάει πίσω { $seconds ->
    [one] { $seconds } δευτερόλεπτο
   *[other] { $seconds } δευτερόλεπτα
}
title-clock-ahead = Το ρολόι πάει μπροστά { $seconds ->
    [one] { $seconds } δευτερόλεπτο
   *[other] { $seconds } δευτερόλεπτα
}
title-clock-behind-minutes = Το ρολόι πάει πίσω { $minutes ->
    [one] { $minutes } λεπτό
   *[other] { $minutes } λεπτά
}
title-clock-ahead-minutes = Το ρολόι πάει μπροστά { $minutes ->
    [one] { $minutes } λεπτό
   *[other] { $minutes } λεπτά
}

## δίκτυο

title-gateway-missing = Δεν υπάρχει προεπιλεγμένη πύλη: η συσκευή δεν φτάνει σε άλλα δίκτυα
title-gateway-loss = Η πύλη { $gateway } χάνει το { $pct }% των πακέτων
title-gateway-unmeasured = Η απώλεια πακέτων προς την πύλη { $gateway } δεν μπορεί να μετρηθεί
title-gateway-slow = Η πύλη { $gateway } απαντά αργά ({ $ms } ms)
title-collector-unreachable = Ο συλλέκτης { $target } δεν είναι προσβάσιμος
title-collector-slow = Η σύνδεση με τον συλλέκτη διαρκεί { $ms } ms

## καταρρεύσεις εφαρμογών και παρακολούθηση αρχείων καταγραφής

title-crash = Το { $app } κατέρρευσε { $count ->
    [one] μία φορά
   *[other] { $count } φορές
}
title-crash-hours = Το { $app } κατέρρευσε { $count ->
    [one] μία φορά
   *[other] { $count } φορές
} { $hours ->
    [one] την τελευταία ώρα
   *[other] τις τελευταίες { $hours } ώρες
}
title-crash-minutes = Το { $app } κατέρρευσε { $count ->
    [one] μία φορά
   *[other] { $count } φορές
} { $minutes ->
    [one] το τελευταίο λεπτό
   *[other] τα τελευταία { $minutes } λεπτά
}
title-log = { $count ->
    [one] { $count } γραμμή καταγραφής ταιριάζει
   *[other] { $count } γραμμές καταγραφής ταιριάζουν
} με το «{ $watch }»
title-log-hours = { $count ->
    [one] { $count } γραμμή καταγραφής ταιριάζει
   *[other] { $count } γραμμές καταγραφής ταιριάζουν
} με το «{ $watch }» { $hours ->
    [one] την τελευταία ώρα
   *[other] τις τελευταίες { $hours } ώρες
}
title-log-minutes = { $count ->
    [one] { $count } γραμμή καταγραφής ταιριάζει
   *[other] { $count } γραμμές καταγραφής ταιριάζουν
} με το «{ $watch }» { $minutes ->
    [one] το τελευταίο λεπτό
   *[other] τα τελευταία { $minutes } λεπτά
}

## η υγεία του ίδιου του πράκτορα

title-agent-outbox-evicted = Ο πράκτορας απέρριψε { $count ->
    [one] { $count } εύρημα
   *[other] { $count } ευρήματα
}: τα εξερχόμενά του ήταν γεμάτα
title-agent-outbox-damaged = Τα εξερχόμενα του πράκτορα υπέστησαν ζημιά
title-agent-outbox-damaged-lost = Τα εξερχόμενα του πράκτορα υπέστησαν ζημιά: { $lost ->
    [one] χάθηκε { $lost } εύρημα
   *[other] χάθηκαν { $lost } ευρήματα
}
title-agent-config-invalid = Ο πράκτορας απέρριψε τις αλλαγές στη ρύθμισή του και κρατά την προηγούμενη
title-agent-disk-full = Ο πράκτορας δεν μπορεί να αποθηκεύσει τα δεδομένα του: ο δίσκος είναι γεμάτος
title-agent-state-unwritable = Ο πράκτορας δεν μπορεί να γράψει στον φάκελο κατάστασής του

## αναφορές χρηστών

title-report = { $who } αναφέρει: «{ $text }»
title-report-failing = { $who } αναφέρει: «{ $text }» ({ $layer ->
    [link] η σύνδεση δικτύου είναι πεσμένη
    [address] δεν υπάρχει διεύθυνση δικτύου
    [gateway] η πύλη δεν απαντά
    [dns] τα ονόματα δεν επιλύονται
    [tcp] ο διακομιστής δεν δέχεται συνδέσεις
    [tls] η ασφαλής σύνδεση αποτυγχάνει
    [http] ο ιστότοπος απαντά με σφάλμα
    [url] η διεύθυνση δεν είναι έγκυρη
    [printer] ο εκτυπωτής δεν είναι προσβάσιμος
    [queue] οι εργασίες εκτύπωσης έχουν κολλήσει
    [mail] ο διακομιστής αλληλογραφίας δεν είναι προσβάσιμος
    [greeting] ο διακομιστής αλληλογραφίας δεν απαντά σωστά
    [space] ο δίσκος είναι γεμάτος
    [disk] πρόβλημα με τον δίσκο
    [write] τα αρχεία δεν αποθηκεύονται
    [cpu] ο επεξεργαστής είναι υπερφορτωμένος
    [memory] η μνήμη δεν φτάνει
    [thermal] η συσκευή υπερθερμαίνεται
    [clock] το ρολόι είναι λάθος
    [crash] μια εφαρμογή καταρρέει
    [battery] η μπαταρία είναι φθαρμένη
    [reboot] εκκρεμεί επανεκκίνηση
    [service] μια υπηρεσία δεν εκτελείται
   *[other] ένας έλεγχος αποτυγχάνει
})

## περιστατικά

title-incident-dns = Το { $name } δεν επιλύεται σε { $count ->
    [one] { $count } συσκευή
   *[other] { $count } συσκευές
}{ $scope_kind ->
    [site] { " " }στην τοποθεσία { $scope }
    [gateway] { " " }πίσω από την πύλη { $scope }
    [network] { " " }στο δίκτυο { $scope }
    [dns] { " " }με διακομιστή DNS { $scope }
    [app] { " " }με την έκδοση { $scope }
    [in] { " " }σε { $scope }
   *[other] { "" }
}
title-incident-reach = Το { $target } δεν είναι προσβάσιμο από { $count ->
    [one] { $count } συσκευή
   *[other] { $count } συσκευές
}{ $scope_kind ->
    [site] { " " }στην τοποθεσία { $scope }
    [gateway] { " " }πίσω από την πύλη { $scope }
    [network] { " " }στο δίκτυο { $scope }
    [dns] { " " }με διακομιστή DNS { $scope }
    [app] { " " }με την έκδοση { $scope }
    [in] { " " }σε { $scope }
   *[other] { "" }
}
title-incident-cert = Το πιστοποιητικό του { $target } λήγει, όπως φαίνεται σε { $count ->
    [one] { $count } συσκευή
   *[other] { $count } συσκευές
}{ $scope_kind ->
    [site] { " " }στην τοποθεσία { $scope }
    [gateway] { " " }πίσω από την πύλη { $scope }
    [network] { " " }στο δίκτυο { $scope }
    [dns] { " " }με διακομιστή DNS { $scope }
    [app] { " " }με την έκδοση { $scope }
    [in] { " " }σε { $scope }
   *[other] { "" }
}
title-incident-gateway = Προβλήματα πρόσβασης στην πύλη { $gateway } σε { $count ->
    [one] { $count } συσκευή
   *[other] { $count } συσκευές
}{ $scope_kind ->
    [site] { " " }στην τοποθεσία { $scope }
    [gateway] { " " }πίσω από την πύλη { $scope }
    [network] { " " }στο δίκτυο { $scope }
    [dns] { " " }με διακομιστή DNS { $scope }
    [app] { " " }με την έκδοση { $scope }
    [in] { " " }σε { $scope }
   *[other] { "" }
}
title-incident-disk = Ο δίσκος { $disk } έχει σχεδόν γεμίσει σε { $count ->
    [one] { $count } συσκευή
   *[other] { $count } συσκευές
}{ $scope_kind ->
    [site] { " " }στην τοποθεσία { $scope }
    [gateway] { " " }πίσω από την πύλη { $scope }
    [network] { " " }στο δίκτυο { $scope }
    [dns] { " " }με διακομιστή DNS { $scope }
    [app] { " " }με την έκδοση { $scope }
    [in] { " " }σε { $scope }
   *[other] { "" }
}
title-incident-crash = Το { $app } καταρρέει σε { $count ->
    [one] { $count } συσκευή
   *[other] { $count } συσκευές
}{ $scope_kind ->
    [site] { " " }στην τοποθεσία { $scope }
    [gateway] { " " }πίσω από την πύλη { $scope }
    [network] { " " }στο δίκτυο { $scope }
    [dns] { " " }με διακομιστή DNS { $scope }
    [app] { " " }με την έκδοση { $scope }
    [in] { " " }σε { $scope }
   *[other] { "" }
}
title-incident-service = Η υπηρεσία { $service } δεν εκτελείται σε { $count ->
    [one] { $count } συσκευή
   *[other] { $count } συσκευές
}{ $scope_kind ->
    [site] { " " }στην τοποθεσία { $scope }
    [gateway] { " " }πίσω από την πύλη { $scope }
    [network] { " " }στο δίκτυο { $scope }
    [dns] { " " }με διακομιστή DNS { $scope }
    [app] { " " }με την έκδοση { $scope }
    [in] { " " }σε { $scope }
   *[other] { "" }
}
title-incident-check = Ο έλεγχος { $check } αποτυγχάνει σε { $count ->
    [one] { $count } συσκευή
   *[other] { $count } συσκευές
}{ $scope_kind ->
    [site] { " " }στην τοποθεσία { $scope }
    [gateway] { " " }πίσω από την πύλη { $scope }
    [network] { " " }στο δίκτυο { $scope }
    [dns] { " " }με διακομιστή DNS { $scope }
    [app] { " " }με την έκδοση { $scope }
    [in] { " " }σε { $scope }
   *[other] { "" }
}
