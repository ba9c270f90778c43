# The staff workspace's words (Polish): the queue, tickets, devices, search and ticket titles,
# for support technicians. Every message here is in every language (a test says so); ids
# start with `staff-` (pages) or `title-` (ticket titles made from a finding's evidence).

staff-language = Język
staff-language-browser = Jak w przeglądarce
staff-language-unknown = „{ $value }” to nie język, którym mówi Firstline: wybierz English, 中文, Polski lub Ελληνικά.
staff-time-zone = Strefa czasowa
staff-time-zone-browser = Jak w przeglądarce
staff-time-zone-unknown = „{ $value }” to nie nazwa strefy czasowej: podaj np. Europe/Warsaw albo zostaw puste, by użyć strefy przeglądarki.
staff-preferences-heading = Jak wyświetlać panel
staff-preferences-saved = Zapisano: strony są teraz w tym języku i tej strefie czasowej.
staff-save = Zapisz

## the frame around every page
staff-nav-queue = Kolejka
staff-nav-devices = Urządzenia
staff-nav-knowledge = Baza wiedzy
staff-nav-stats = Statystyki
staff-nav-account = Konto
staff-search = Szukaj
staff-search-placeholder = Szukaj zgłoszeń, urządzeń, osób… (/)
staff-sign-out = Wyloguj
staff-role-technician = technik
staff-role-supervisor = kierownik
staff-role-admin = administrator
staff-problem = Problem
staff-store-unavailable = Magazyn danych kolektora jest niedostępny: strony nie da się teraz pokazać. Spróbuj ponownie za minutę.

## times
staff-ago = { $unit ->
    [s] { $count } s temu
    [min] { $count } min temu
    [h] { $count } godz. temu
   *[d] { $count ->
        [one] { $count } dzień temu
       *[other] { $count } dni temu
    }
}
staff-due-in = { $unit ->
    [s] za { $count } s
    [min] za { $count } min
    [h] za { $count } godz.
   *[d] { $count ->
        [one] za { $count } dzień
       *[other] za { $count } dni
    }
}
staff-due-late = { $unit ->
    [s] { $count } s po terminie
    [min] { $count } min po terminie
    [h] { $count } godz. po terminie
   *[d] { $count ->
        [one] { $count } dzień po terminie
       *[other] { $count } dni po terminie
    }
}
staff-never = nigdy

## the queue
staff-queue-heading = Kolejka
staff-queue-empty = Nic tu nie ma: żadne zgłoszenie nie pasuje.
staff-queue-truncated = Pokazano pierwsze { $count } zgłoszeń: zawęź filtry, by zobaczyć resztę.
staff-queue-keys = Klawisze: j/k ruch · x zaznacz · o otwórz · a przypisz · r rozwiąż · / szukaj
staff-ticket-count = { $count ->
    [one] { $count } zgłoszenie
    [few] { $count } zgłoszenia
   *[many] { $count } zgłoszeń
}
staff-view-open = Wszystkie otwarte
staff-view-mine = Moje zgłoszenia
staff-view-unassigned-urgent = Nieprzypisane P1–P2
staff-view-breaching = Termin mija w ciągu 1 godz.
staff-view-reported = Zgłoszone przez użytkowników
staff-col-id = #
staff-col-priority = Priorytet
staff-col-what = Co
staff-col-who = Urządzenia i użytkownik
staff-col-site = Lokalizacja
staff-col-age = Wiek
staff-col-sla = SLA
staff-col-updated = Zmiana
staff-col-assignee = Przypisane do
staff-col-state = Stan
staff-unassigned = Nieprzypisane
staff-device-count = { $count ->
    [one] { $count } urządzenie
    [few] { $count } urządzenia
   *[many] { $count } urządzeń
}
staff-select-all = Zaznacz wszystkie widoczne zgłoszenia
staff-state-open = Otwarte
staff-state-new = Nowe
staff-state-assigned = Przypisane
staff-state-in_progress = W toku
staff-state-pending = Oczekuje
staff-state-resolved = Rozwiązane
staff-state-closed = Zamknięte
staff-state-cancelled = Anulowane
staff-kind-device = Urządzenie
staff-kind-incident = Incydent
staff-kind-report = Zgłoszenie użytkownika

## filters
staff-filter-view = Widok
staff-filter-state = Stan
staff-filter-priority = Priorytet
staff-filter-tier = Linia
staff-filter-kind = Rodzaj
staff-filter-assignee = Przypisane do
staff-filter-site = Lokalizacja
staff-filter-check = Test
staff-filter-sort = Kolejność
staff-filter-health = Stan zdrowia
staff-filter-any = Dowolne
staff-filter-apply = Filtruj
staff-filter-clear = Wyczyść
staff-filter-bad = { $field } „{ $value }” nie istnieje: wybierz z { $valid }. Lista pokazana bez tego filtra.

## actions on selected tickets
staff-bulk-selected = Z zaznaczonymi zgłoszeniami:
staff-bulk-assign-to = Przypisz do…
staff-bulk-assign = Przypisz
staff-bulk-note-placeholder = Notatka wewnętrzna
staff-bulk-note = Dodaj notatkę
staff-bulk-solution-placeholder = Co pomogło
staff-bulk-resolve = Rozwiąż
staff-bulk-done-assign = { $count ->
    [one] Przypisano { $count } zgłoszenie.
    [few] Przypisano { $count } zgłoszenia.
   *[many] Przypisano { $count } zgłoszeń.
}
staff-bulk-done-comment = { $count ->
    [one] Dodano notatkę do { $count } zgłoszenia.
   *[other] Dodano notatkę do { $count } zgłoszeń.
}
staff-bulk-done-resolve = { $count ->
    [one] Rozwiązano { $count } zgłoszenie.
    [few] Rozwiązano { $count } zgłoszenia.
   *[many] Rozwiązano { $count } zgłoszeń.
}
staff-bulk-merge-placeholder = Do zgłoszenia nr
staff-bulk-merge = Scal
staff-bulk-done-merge = { $count ->
    [one] Scalono { $count } zgłoszenie.
    [few] Scalono { $count } zgłoszenia.
   *[many] Scalono { $count } zgłoszeń.
}
staff-bulk-none-selected = Nie zaznaczono żadnego zgłoszenia: najpierw zaznacz zgłoszenia, potem wybierz działanie.
staff-bulk-bad-ticket = „{ $value }” to nie numer zgłoszenia.
staff-bulk-bad-action = „{ $value }” to nie działanie dla zaznaczonych zgłoszeń: przypisz, notatka, rozwiąż lub scal.
staff-bulk-too-many = Zaznaczono { $count } zgłoszeń; jedno działanie obejmuje najwyżej { $limit }.
staff-bulk-result = Niektóre zgłoszenia nie zostały zmienione
staff-bulk-partly = Zmieniono: { $done }, odrzucono: { $refused }:
staff-back-to-queue = Wróć do kolejki

## devices
staff-devices-heading = Urządzenia
staff-devices-find = Znajdź
staff-devices-find-placeholder = Nazwa, użytkownik, lokalizacja lub system
staff-filter-page = Strona
staff-page-of = Strona { $page } z { $pages }
staff-page-previous = ← Poprzednia
staff-page-next = Następna →
staff-devices-count = { $shown } z { $total } urządzeń
staff-devices-none = Żadne urządzenie nie pasuje.
staff-col-device = Urządzenie
staff-col-health = Stan zdrowia
staff-col-user = Użytkownik
staff-col-last-seen = Ostatni kontakt
staff-col-agent = Agent
staff-col-open-tickets = Otwarte zgłoszenia
staff-health-problems = Problemy
staff-health-firing = { $count ->
    [one] { $count } problem
    [few] { $count } problemy
   *[many] { $count } problemów
}
staff-health-offline = Offline
staff-health-healthy = Sprawne
staff-health-revoked = Odwołane

## a ticket
staff-ticket-missing = Nie ma takiego zgłoszenia.
staff-ticket-priority-why = wpływ { $impact }, pilność { $urgency }
staff-level-high = wysoki
staff-level-medium = średni
staff-level-low = niski
staff-ticket-opened = Otwarte
staff-ticket-response-due = Termin odpowiedzi
staff-ticket-resolution-due = Termin rozwiązania
staff-ticket-requester = Zgłaszający
staff-ticket-affected-users = Dotknięci użytkownicy
staff-ticket-resolution = Rozwiązanie
staff-ticket-systems = Systemy zgłoszeń
staff-sync-not-yet = jeszcze nie utworzone
staff-sync-waiting = { $count ->
    [one] 1 zmiana czeka
    [few] { $count } zmiany czekają
   *[other] { $count } zmian czeka
}
staff-sync-closed-there = zamknięte tam
staff-sync-in-step = zsynchronizowane
staff-ticket-problem-candidate = Powraca: kandydat na problem
staff-ticket-known-fixes = Znane rozwiązania
staff-ticket-no-known-fixes = Jeszcze brak: rozwiązanie podane przy zamykaniu zostanie zaproponowane następnym razem.
staff-ticket-added = Dodane
staff-ticket-recovered = Przywrócone
staff-ticket-actions = Działania
staff-ticket-reply-to = Odpowiedź dla { $person } (zobaczy ją na swojej stronie pomocy, w powiadomieniu i e-mailem)
staff-ticket-send-reply = Wyślij odpowiedź
staff-ticket-note = Notatka wewnętrzna (tylko dla zespołu)
staff-ticket-solution = Rozwiązanie (co pomogło)
staff-ticket-escalate-why = Powód eskalacji
staff-ticket-escalate = Eskaluj
staff-ticket-waiting-for = Na co czekamy
staff-ticket-set-pending = Ustaw oczekiwanie
staff-ticket-start = Rozpocznij pracę
staff-ticket-cancel = Anuluj zgłoszenie
staff-ticket-reopen = Otwórz ponownie
staff-ticket-close = Zamknij
staff-ticket-playbook = Scenariusz
staff-ticket-target = Cel
staff-ticket-reproduce = Odtwórz teraz
staff-ticket-merge = Scal ze zgłoszeniem
staff-ticket-merge-into = Numer zgłoszenia albo otwarty incydent
staff-ticket-merge-explain = Jego urządzenia, stany i zgłaszający przejdą do tamtego zgłoszenia; to zostanie anulowane jako scalone.
staff-ticket-reproduce-on = Na których urządzeniach
staff-ticket-reproduce-choose = Wybierz co najmniej jedno urządzenie incydentu, na którym ma to zostać uruchomione.
staff-ticket-reproduce-queued = { $count ->
    [one] Poproszono { $count } urządzenie o odtworzenie: wynik pojawi się na osi czasu.
    [few] Poproszono { $count } urządzenia o odtworzenie: wyniki pojawią się na osi czasu.
   *[many] Poproszono { $count } urządzeń o odtworzenie: wyniki pojawią się na osi czasu.
}
staff-ticket-timeline = Historia
staff-ticket-when = Kiedy
staff-ticket-details = Szczegóły
staff-playbook-web = Strona lub aplikacja WWW
staff-playbook-network = Sieć
staff-playbook-slow = Spowolnienie
staff-playbook-disk = Dysk i zapisywanie plików
staff-playbook-crash = Awaria programu
staff-playbook-printing = Drukowanie
staff-playbook-email = Poczta e-mail
staff-playbook-clock = Zegar
staff-playbook-health = Ogólny stan

## a device
staff-device-missing = Nie ma takiego urządzenia.
staff-device-os = System
staff-device-cpu = Procesor
staff-device-cores = { $count ->
    [one] { $count } rdzeń
    [few] { $count } rdzenie
   *[many] { $count } rdzeni
}
staff-device-memory = Pamięć
staff-device-connected = Połączone
staff-yes = tak
staff-no = nie
staff-unknown = nieznane
staff-device-over-budget = Ponad limit
staff-device-over-budget-note = To urządzenie: { $note }. Jego agent lub konfiguracja mogą być uszkodzone albo nie jest tym, za co się podaje.
staff-config = Konfiguracja
staff-config-should-run = Konfiguracja floty
staff-config-runs = Działa
staff-config-local = tylko plik lokalny
staff-config-not-said = jeszcze nie zgłoszono
staff-config-refused = Odrzucona
staff-device-conditions = Bieżące stany
staff-device-resource = Zasób
staff-device-since = Od
staff-device-summary = Opis
staff-device-history = Historia stanu
staff-device-history-chart = Problemy według testu (ostatnie 500 wyników)
staff-device-severity = Waga
staff-device-finding = Wynik
staff-device-tickets = Zgłoszenia
staff-device-users = Użytkownicy
staff-device-no-session = Nikt nie jest teraz na nim zalogowany.
staff-device-account = Konto
staff-device-session = Sesja
staff-device-where = Gdzie
staff-device-from = { $line } z { $host }
staff-device-last-login = Ostatnie logowanie
staff-agent-health = Stan agenta
staff-agent-health-none = Jeszcze nie zgłoszono: agenci zgłaszają to razem z sygnałami życia.
staff-agent-check-cycle = Cykl testów
staff-agent-memory = Pamięć rezydentna
staff-agent-outbox = Kolejka wysyłki
staff-agent-outbox-depth = { $count ->
    [one] { $count } wynik czeka
    [few] { $count } wyniki czekają
   *[many] { $count } wyników czeka
}
staff-agent-reported = Zgłoszono

## search
staff-search-words = Słowa
staff-search-kind-tickets = Zgłoszenia
staff-search-kind-devices = Urządzenia
staff-search-kind-people = Osoby
staff-search-kind-knowledge = Baza wiedzy
staff-search-hint = Wpisz kilka słów: imię osoby, nazwę komputera, błąd, lokalizację. Każde słowo musi pasować; ostatnie może być początkiem słowa.
staff-search-too-long = Najwyżej { $limit } znaków.
staff-search-nothing = Nic nie znaleziono dla „{ $words }”. Spróbuj mniej słów albo sprawdź pisownię.

## knowledge
staff-fix-worked = { $count ->
    [one] pomogło { $count } raz
   *[other] pomogło { $count } razy
}
staff-knowledge-heading = Baza wiedzy
staff-knowledge-placeholder = dysk, dns, outlook…
staff-knowledge-write = Napisz artykuł
staff-knowledge-write-for-ticket = Napisz artykuł o tej usterce
staff-knowledge-edit = Edytuj artykuł
staff-knowledge-articles = Artykuły
staff-knowledge-no-articles = Jeszcze żaden artykuł nie pasuje. Napisz go: będzie podpowiadany przy każdym zgłoszeniu dotyczącym wskazanych testów i usterek.
staff-knowledge-none-for-ticket = Żaden artykuł nie opisuje jeszcze tej usterki.
staff-knowledge-solutions = Co pomogło wcześniej
staff-knowledge-no-solutions = Nic nie znaleziono. Rozwiązania pojawiają się tu, gdy zgłoszenia są z nimi zamykane.
staff-knowledge-missing = Nie ma takiego artykułu.
staff-knowledge-written-by = Autor: { $author }, ostatnia zmiana: { $editor }
staff-knowledge-checks = Testy
staff-knowledge-fingerprints = Usterki
staff-knowledge-title = Tytuł
staff-knowledge-body = Treść
staff-knowledge-markdown = Markdown: **pogrubienie**, *kursywa*, `kod`, listy z -, linki jako [słowa](https://…). HTML jest pokazywany jako tekst.
staff-knowledge-checks-hint = Testy, których dotyczy (początki nazw, oddzielone spacjami: dns. disk.free_low)
staff-knowledge-fingerprints-hint = Usterki, których dotyczy (odciski ze zgłoszenia, oddzielone spacjami)
staff-knowledge-title-empty = Artykuł musi mieć tytuł.
staff-knowledge-title-long = Tytuł jest za długi: najwyżej { $limit } znaków.
staff-knowledge-body-empty = Artykuł musi mieć treść.
staff-knowledge-body-long = Treść jest za długa: najwyżej { $limit } bajtów.
staff-knowledge-too-many-links = Artykuł może dotyczyć najwyżej { $limit } testów i { $limit } usterek.
staff-knowledge-bad-check = „{ $value }” to nie początek nazwy testu: użyj małych liter, cyfr, kropek, myślników i podkreśleń, np. dns. lub disk.free_low.
staff-knowledge-delete-who = Tylko kierownik lub administrator może usunąć artykuł.
staff-delete = Usuń
staff-replies-heading = Gotowe odpowiedzi
staff-replies-none = Brak gotowych odpowiedzi: administratorzy dodają je tutaj.
staff-replies-add = Dodaj lub zmień gotową odpowiedź
staff-replies-text = Treść odpowiedzi
staff-replies-same-title = Odpowiedź o tym samym tytule zastępuje poprzednią.
staff-replies-who = Tylko administrator może zmieniać gotowe odpowiedzi.
staff-replies-bad = Gotowa odpowiedź musi mieć tytuł (najwyżej 200 znaków) i treść.

## account
staff-password-heading = Zmień hasło
staff-password-current = Obecne hasło
staff-password-new = Nowe hasło (co najmniej { $count } znaków)
staff-password-again = Powtórz nowe hasło
staff-password-sessions = Pozostałe sesje zostaną zakończone; ta trwa dalej.
staff-password-change = Zmień hasło
staff-password-differ = Nowe hasła się różnią; nic nie zmieniono.
staff-password-changed = Hasło zmienione. Pozostałe sesje zostały zakończone.

## sign-in
staff-sign-in = Zaloguj się
staff-sign-in-name = Nazwa
staff-sign-in-password = Hasło
staff-sign-in-again = Spróbuj ponownie
staff-sign-in-wrong = Zła nazwa lub hasło.
staff-sign-in-too-many = { $minutes ->
    [one] Zbyt wiele nieudanych logowań; spróbuj ponownie za minutę.
   *[other] Zbyt wiele nieudanych logowań; spróbuj ponownie za { $minutes } min.
}
staff-sign-in-plain-http = Ta strona przyszła zwykłym HTTP: hasło przeszłoby przez sieć niezaszyfrowane. Poproś administratora o udostępnienie kolektora przez HTTPS (odwrotne proxy TLS) i ustawienie public_url na jego adres https://.
staff-search-unreadable = Wyszukiwanie wymaga liter lub cyfr i najwyżej { $limit } słów.

## the stats page (supervisors)
staff-span = { $unit ->
    [s] { $count } s
    [min] { $count } min
    [h] { $count } godz.
   *[d] { $count ->
        [one] { $count } dzień
       *[other] { $count } dni
    }
}
staff-chart-empty = { $title }: na razie brak danych.
staff-stats-supervisors-only = Statystyki są dla kierowników zespołu: poproś administratora o rolę kierownika.
staff-stats-heading = Statystyki z ostatnich { $days } dni
staff-stats-period = Okres
staff-stats-opened = Otwarte zgłoszenia
staff-stats-findings = Otrzymane wyniki testów
staff-stats-compression = Redukcja szumu
staff-stats-compression-value = { $ratio } wyników na zgłoszenie
staff-stats-resolved = Rozwiązane
staff-stats-auto-resolved = Rozwiązane samoczynnie
staff-stats-per-category = Zgłoszenia według kategorii
staff-stats-per-site = Zgłoszenia według lokalizacji
staff-stats-per-technician = Zgłoszenia według technika
staff-stats-by-age = Otwarte zgłoszenia według wieku
staff-stats-age-under_1h = poniżej 1 godz.
staff-stats-age-under_1d = poniżej 1 dnia
staff-stats-age-under_1w = poniżej tygodnia
staff-stats-age-older = starsze
staff-stats-times = Czasy reakcji i naprawy
staff-stats-col-opened = Otwarte
staff-stats-mtta-median = Czas do podjęcia, mediana
staff-stats-mtta-p90 = Czas do podjęcia, 90. percentyl
staff-stats-mttr-median = Czas do rozwiązania, mediana
staff-stats-mttr-p90 = Czas do rozwiązania, 90. percentyl
staff-stats-response-met = SLA reakcji dotrzymane
staff-stats-resolution-met = SLA rozwiązania dotrzymane
staff-stats-recurring = Najczęściej powracające problemy
staff-stats-fingerprint = Usterka
staff-stats-tickets = Zgłoszenia
staff-stats-problem-candidate = kandydat na problem
staff-stats-people = Ludzie w obiegu
staff-stats-reports = Zgłoszenia użytkowników
staff-stats-reports-value = { $reports } ({ $joined } dołączono do otwartego zgłoszenia tej samej osoby)
staff-stats-found-first = Wykryte, zanim ktoś zgłosił
staff-stats-found-first-value = { $share } ({ $found } z { $reports } zgłoszeń: gdy przyszło zgłoszenie, test miał już otwarte zgłoszenie dla tego urządzenia i obszaru albo wyjaśniał je incydent)
staff-stats-unreported = Otwarte przez testy, nigdy niezgłoszone
staff-stats-unreported-value = { $share } ({ $count } z otwartych zgłoszeń: żadne zgłoszenie użytkownika nie zostało z nimi powiązane ani przez nie wyjaśnione)
staff-stats-outage = Wyjaśnione znaną awarią
staff-stats-outage-value = { $count } ({ $share } zgłoszeń: wyjaśnił je otwarty incydent, użytkownik został poinformowany)
staff-stats-fixed = Zgłaszający, którzy potwierdzili „naprawione”
staff-stats-fixed-value = { $share } ({ $fixed } z { $answers } odpowiadających, ostatnia odpowiedź na zgłoszenie)
staff-stats-csat = Zadowolenie (CSAT)
staff-stats-csat-value = { $average } z 5 (ocen: { $ratings })
staff-stats-csat-none = — (brak ocen)
staff-stats-fixes = Naprawy
staff-stats-runs = Uruchomienia
staff-stats-runs-value = zweryfikowane: { $verified }, niezweryfikowane: { $not_verified }, nieudane: { $failed }, odrzucone przez urządzenie: { $refused }, oczekujące: { $waiting }
staff-stats-verified-rate = Odsetek zweryfikowanych napraw
staff-stats-verified-rate-value = { $rate } (z uruchomionych: test, który wykrył usterkę, już jej nie wykrywa)
staff-stats-self-healed = Samonaprawione
staff-stats-self-healed-value = { $share } (z rozwiązanych zgłoszeń: rozwiązała je zweryfikowana naprawa automatyczna)
staff-stats-time-to-fix = Czas naprawy
staff-stats-time-to-fix-value = automatycznie { $auto }, przez człowieka { $person } (mediana, od otwarcia zgłoszenia do zweryfikowanej naprawy)

## the ticket's fixes
staff-fixes = Naprawy
staff-fixes-none = Żadna naprawa wbudowana w agenta nie dotyczy tej usterki.
staff-fixes-record = (pomogła { $worked } z { $tried } razy)
staff-fixes-devices = na { $count } urządzeniach, najpierw na kilku
staff-fixes-running = { $fix } w toku
staff-fixes-apply = Zastosuj { $fix }
staff-fixes-interface = Połączenie sieciowe
staff-fixes-ask-user = { $fix } wymaga zgody użytkownika na jego stronie pomocy
staff-fixes-off = { $fix } jest wyłączona przez zasady
staff-fixes-mode-auto = automatycznie
staff-fixes-mode-approve = po zatwierdzeniu przez technika
staff-fixes-mode-ask-user = za zgodą użytkownika
staff-fixes-mode-off = wyłączona
staff-fixes-col-fix = Naprawa
staff-fixes-col-device = Urządzenie
staff-fixes-col-allowed-by = Zezwolił
staff-fixes-col-state = Stan
staff-fixes-col-asked = Zlecono
staff-fixes-col-answered = Odpowiedź
staff-fixes-canary = pilotaż
staff-fix-state-queued = w kolejce
staff-fix-state-sent = wysłana do urządzenia
staff-fix-state-verified = zweryfikowana
staff-fix-state-not_verified = niezweryfikowana
staff-fix-state-failed = nieudana
staff-fix-state-refused = odrzucona przez urządzenie
staff-fix-state-expired = wygasła
staff-fix-state-cancelled = anulowana

## timeline entry kinds
staff-event-opened = Otwarcie
staff-event-state = Stan
staff-event-evidence = Dowody
staff-event-device = Urządzenie
staff-event-priority = Priorytet
staff-event-escalation = Eskalacja
staff-event-sla = SLA
staff-event-comment = Notatka
staff-event-assignment = Przypisanie
staff-event-flapping = Niestabilność
staff-event-stale = Urządzenie milczy
staff-event-known-fix = Znana naprawa
staff-event-problem = Problem
staff-event-merge = Scalenie
staff-event-related = Powiązane
staff-event-report = Zgłoszenie użytkownika
staff-event-reproduce = Odtworzenie
staff-event-notification = Powiadomienie
staff-event-sync = System zgłoszeń
staff-event-reply = Odpowiedź
staff-event-requester-answer = Odpowiedź zgłaszającego
staff-event-fix = Naprawa

## fleet configuration (admins)
staff-nav-fleet = Flota
staff-fleet-admins-only = Konfiguracja floty jest dla administratorów.
staff-fleet-heading = Konfiguracja floty
staff-fleet-explain = Zasady ustawiają konfigurację agentów (klucze z agent.toml) dla grup urządzeń; gdy dwie ustawiają ten sam klucz, wygrywa wyższy priorytet. Każda zmiana to nowa wersja; agenci stosują ją w kilka sekund i mówią, którą wersję uruchamiają lub dlaczego ją odrzucili.
staff-fleet-policies = Zasady
staff-fleet-name = Nazwa
staff-fleet-group = Grupa
staff-fleet-precedence = Priorytet
staff-fleet-version = Wersja
staff-fleet-updated = Zmieniono
staff-fleet-rolling = wdrażanie: { $canaries } urządzeń pilotażowych, reszta na v{ $stable }
staff-fleet-rolling-long = Wersja { $version } działa tylko na { $canaries } urządzeniach pilotażowych; pozostałe zostają na wersji { $stable }, dopóki nie zostanie wdrożona wszędzie.
staff-fleet-versions = Wersje na urządzeniach
staff-fleet-running = Działa
staff-fleet-refusing = Odrzucona
staff-fleet-groups = Grupy
staff-fleet-members = Urządzenia
staff-fleet-created-by = Utworzył
staff-fleet-rule-site = w lokalizacji { $site }
staff-fleet-rule-rule = nazwa hosta { $pattern }, system { $os }
staff-fleet-rule-manual = { $count ->
    [one] { $count } urządzenie wybrane ręcznie
    [few] { $count } urządzenia wybrane ręcznie
   *[many] { $count } urządzeń wybranych ręcznie
}
staff-fleet-new-group = Nowa grupa
staff-fleet-kind = Rodzaj
staff-fleet-kind-site = Według lokalizacji
staff-fleet-kind-rule = Według nazwy hosta i systemu
staff-fleet-kind-manual = Ręcznie
staff-fleet-group-value = Lokalizacja, wzorzec nazwy hosta lub identyfikatory urządzeń
staff-fleet-group-os = System zawiera
staff-fleet-add = Dodaj
staff-fleet-new-policy = Nowa zasada
staff-fleet-settings = Ustawienia (agent.toml)
staff-fleet-note = Powód
staff-fleet-no-policy = Nie ma takiej zasady.
staff-fleet-refused = Nie zapisano
staff-fleet-change = Zmiana
staff-fleet-canary = Najpierw na urządzeniach pilotażowych
staff-fleet-canary-percent = Odsetek urządzeń grupy (%)
staff-fleet-canary-group = Grupa pilotażowa
staff-fleet-bad-percent = „{ $value }” to nie odsetek od 0 do 100: nic nie zapisano.
staff-fleet-save = Zapisz jako nową wersję
staff-fleet-promote = Wdróż na wszystkie urządzenia
staff-fleet-history = Wersje
staff-fleet-by = Kto
staff-fleet-changes = Co się zmieniło
staff-fleet-roll-back = Przywróć tę wersję
