# Teksty Firstline dla użytkowników, po polsku.

language-name = Polski

report-count = { $count ->
    [one] { $count } zgłoszenie
    [few] { $count } zgłoszenia
   *[many] { $count } zgłoszeń
}

## notices

notice-reply-title = Dział IT odpowiedział w sprawie zgłoszenia #{ $ticket }
notice-reply-body = { $text }
notice-resolved-title = Twoje zgłoszenie #{ $ticket } zostało rozwiązane
notice-resolved-body = Czy wszystko znów działa? Otwórz „Pomoc IT” i odpowiedz tak lub nie.

## help page

help-page-title = Pomoc IT
help-for-device = Pomoc dla komputera { $device }
help-signed-in-as = Jesteś zalogowany jako { $person }.
help-health-heading = Stan tego komputera
help-health-good = Wszystko, co sprawdzamy, wygląda dobrze.
help-area-storage = Dysk
help-area-network = Sieć
help-area-memory = Pamięć
help-area-battery = Bateria
help-area-updates = Aktualizacje
help-area-performance = Szybkość i temperatura
help-area-printing = Drukowanie
help-area-clock = Zegar
help-area-applications = Programy
help-area-services = Usługi w tle
help-area-security = Bezpieczeństwo
help-area-other = Inne
help-state-green = W porządku
help-state-amber = Wymaga uwagi
help-state-red = Nie działa
help-reason-storage = Dysk jest prawie pełny albo nie da się zapisać plików.
help-reason-network = Część połączenia sieciowego nie działa.
help-reason-memory = Komputerowi kończy się pamięć.
help-reason-battery = Bateria wymaga uwagi.
help-reason-updates = Czekają aktualizacje albo komputer trzeba uruchomić ponownie.
help-reason-performance = Komputer jest bardzo obciążony albo się przegrzewa.
help-reason-printing = Nie można połączyć się z drukarką.
help-reason-clock = Zegar komputera jest źle ustawiony, przez co logowanie może nie działać.
help-reason-applications = Jakiś program ciągle się nieoczekiwanie zamyka.
help-reason-services = Zatrzymała się usługa działająca w tle.
help-reason-security = Ustawienie bezpieczeństwa wymaga uwagi.
help-reason-other = Coś wymaga uwagi; dział IT widzi szczegóły.
help-it-knows = Dział IT już o tym wie.
help-outages-heading = Znane problemy
help-outage = { $count ->
    [one] Dział IT wie o problemie z { $what } na tym komputerze i już nad nim pracuje. Nie musisz go zgłaszać.
   *[other] Wiele osób { $where } ma problem z { $what }. Dział IT już nad tym pracuje; nie musisz tego zgłaszać.
}
help-outage-where-site = w biurze { $site }
help-outage-where-network = w tej samej sieci
help-outage-where-any = w firmie
help-report-heading = Opisz problem własnymi słowami
help-report-hint = Na przykład: „nie mogę drukować”, „internet działa wolno”, „Outlook ciągle się zamyka”.
help-report-send = Sprawdź mój komputer i powiadom IT
help-report-empty = Najpierw napisz kilka słów o problemie.
help-report-too-long = Opis jest za długi (najwyżej { $max } znaków). Skróć go, proszę.
help-report-busy = Na Twoim komputerze czeka już kilka sprawdzeń. Odczekaj kilka minut i spróbuj ponownie.
help-report-offline = Twój komputer nie jest teraz połączony z działem IT, więc nie można go sprawdzić. Spróbuj za kilka minut albo zadzwoń do działu IT.
help-checking = Sprawdzamy Twój komputer…
help-checking-detail = Zwykle trwa to krócej niż minutę. Strona odświeży się sama.
help-result-heading = Co znaleźliśmy
help-advice-heading = Co zrobić teraz
help-result-failed = Sprawdzenie nie zostało dokończone: { $why }
help-result-expired = Twój komputer nie odpowiedział na czas. Spróbuj ponownie, gdy będzie włączony i połączony z siecią.
help-ticket-number = Numer Twojego zgłoszenia to #{ $ticket }. Dział IT je ma; nie musisz go wysyłać ponownie.
help-ticket-waiting = Dział IT ma Twoje zgłoszenie; za chwilę pojawi się tu jego numer.
help-known-outage = To znany problem: dział IT już nad nim pracuje.
help-requests-heading = Twoje zgłoszenia
help-requests-none = Nie zgłaszałeś jeszcze niczego z tego komputera.
help-request-line = #{ $ticket }: { $title }
help-opened = Zgłoszono { $when }
help-reply-from = Odpowiedź działu IT
help-your-answer = Twoja odpowiedź
help-status-new = Przyjęte
help-status-assigned = Przydzielone technikowi
help-status-in_progress = W realizacji
help-status-pending = Oczekuje
help-status-resolved = Rozwiązane
help-status-closed = Zamknięte
help-status-cancelled = Anulowane
help-fixed-question = Dział IT uważa, że problem został rozwiązany. Czy wszystko znów działa?
help-fixed-yes = Tak, działa
help-fixed-no = Nie, nadal nie działa
help-fixed-words = Jeśli nadal nie działa, co się teraz dzieje?
help-rating-question = Jak oceniasz pomoc? (opcjonalnie)
help-rating-1 = 1 – bardzo źle
help-rating-5 = 5 – bardzo dobrze
help-answer-thanks-fixed = Dziękujemy. Zamknęliśmy zgłoszenie.
help-answer-thanks-broken = Dziękujemy. Ponownie otworzyliśmy zgłoszenie i dział IT znowu się nim zajmie.
help-language = Język
help-link-invalid-title = Ten link już nie działa
help-link-invalid = Linki z „Pomocy IT” działają tylko raz i tylko przez kilka minut. Otwórz ponownie „Pomoc IT” z menu.
help-session-over = Twoja strona pomocy została zamknięta. Otwórz ponownie „Pomoc IT” z menu.
help-page-refused = Nie udało się wysłać tej strony stąd. Odśwież stronę i spróbuj ponownie.
help-not-yours = To nie jest Twoje zgłoszenie.

## mail

mail-reply-subject = [#{ $ticket }] Dział IT odpowiedział na Twoje zgłoszenie
mail-reply-body = Dział IT odpowiedział na Twoje zgłoszenie #{ $ticket }:

    { $text }

    Możesz odpowiedzieć lub zobaczyć zgłoszenie na swojej stronie pomocy: otwórz „Pomoc IT” na swoim komputerze.
mail-resolved-subject = [#{ $ticket }] Twoje zgłoszenie zostało rozwiązane: czy wszystko działa?
mail-resolved-body = Dział IT uważa, że Twoje zgłoszenie #{ $ticket } zostało rozwiązane.

    Czy wszystko znów działa? Otwórz „Pomoc IT” na swoim komputerze i odpowiedz „Tak, działa” albo „Nie, nadal nie działa”. Jeśli nadal nie działa, otworzymy zgłoszenie ponownie.

## outage notices

notice-outage-title = Dział IT wie o problemie, który dotyczy Twojego komputera
notice-outage-ended-title = Problem, nad którym pracował dział IT, został usunięty
notice-outage-ended-body = { $what } powinno znów działać. Jeśli nadal nie działa, otwórz „Pomoc IT” i daj nam znać.

## words
# Co diagnoza mówi osobie, która zgłosiła problem (said-*), co może teraz zrobić (advice-*),
# i teksty polecenia `firstline-agent report` (report-*).

said-test-failed = Nie udało się przeprowadzić testu na tym komputerze.
said-web-which-site = Która strona się nie otwiera? Do testu potrzebny jest jej adres.
said-web-bad-address = Tego adresu nie da się sprawdzić: nie wygląda na adres strony internetowej.
said-web-works = Strona { $site } otwiera się na tym komputerze.
said-web-name-unknown = Nie można znaleźć { $site }: tej nazwy nie ma w firmowej „książce adresowej” (DNS).
said-web-dns-silent = Nie można znaleźć { $site }: „książka adresowa” sieci (DNS) nie odpowiada.
said-web-refused = Serwer { $site } został znaleziony, ale nie przyjmuje połączeń: usługa nie działa albo jest zablokowana.
said-web-insecure = Bezpieczne połączenie z { $site } nie działa: jej certyfikat bezpieczeństwa nie jest akceptowany.
said-web-error-page = Strona { $site } odpowiada, ale tylko stroną błędu.
said-web-not-tested = Adres { $site } nie został sprawdzony: ten komputer może sprawdzać tylko adresy dozwolone przez dział IT.
said-net-no-link = Ten komputer nie jest podłączony do żadnej sieci.
said-net-no-address = Ten komputer jest podłączony, ale sieć nie nadała mu adresu.
said-net-no-router = Router w Twojej sieci nie odpowiada.
said-net-dns = Nie można odnaleźć nazw firmowych serwerów: „książka adresowa” (DNS) sieci, w której jesteś, ich nie zna albo nie odpowiada.
said-net-company-unreachable = Z sieci, w której jesteś, nie można połączyć się z serwerami firmy.
said-net-no-internet = Sieć lokalna działa, ale nie ma połączenia z internetem.
said-net-works = Sieć na tym komputerze działa: jest połączenie, nazwy są odnajdywane, a serwery firmy odpowiadają.
said-slow-cpu = Komputer działa wolno, bo { $program } zajmuje procesor ({ $pct }%).
said-slow-memory = Komputer działa wolno, bo jego pamięć jest pełna.
said-slow-disk = Komputer działa wolno, bo jego dysk jest bardzo obciążony.
said-slow-hot = Komputer jest bardzo gorący i zwalnia, żeby się schłodzić.
said-slow-normal = Nie znaleziono nic niezwykłego: procesor, pamięć, dysk i temperatura są w normie.
said-disk-full = Dysk { $place } jest pełny: nie ma już miejsca na zapisywanie plików.
said-disk-nearly-full = Dysk { $place } jest prawie pełny (zajęte { $pct }%).
said-disk-read-only = Dysk { $place } jest zablokowany przed zmianami, więc nie można na nim nic zapisać.
said-disk-cannot-save = Nie można zapisywać plików w { $place }.
said-disk-ok = Na dyskach jest miejsce i pliki można zapisywać.
said-crash-found = { $count ->
    [one] Program { $program } zamknął się nieoczekiwanie { $count } raz w ciągu ostatnich 7 dni.
   *[other] Program { $program } zamknął się nieoczekiwanie { $count } razy w ciągu ostatnich 7 dni.
}
said-crash-none-for = Program { $program } nie zostawił żadnych raportów o awarii w ciągu ostatnich 7 dni.
said-crash-none = Żaden program nie zostawił raportu o awarii w ciągu ostatnich 7 dni.
said-print-service-off = Usługa drukowania na tym komputerze nie działa.
said-print-unreachable = Nie można połączyć się przez sieć z drukarką { $printer }.
said-print-not-tested = Na tym komputerze nie ustawiono drukarek do testu, więc sama drukarka nie została sprawdzona.
said-print-answers = Drukarki odpowiadają, więc problem dotyczy wydruku albo samej drukarki.
said-mail-not-set-up = Na tym komputerze nie ustawiono serwerów poczty do testu.
said-mail-unreachable = Z tego komputera nie można połączyć się z serwerem poczty.
said-mail-ok = Serwery poczty odpowiadają, więc problem jest prawdopodobnie w programie pocztowym albo w skrzynce.
said-clock-unknown = Nie udało się porównać zegara komputera z zegarem sieci.
said-clock-wrong = { $minutes ->
    [one] Zegar tego komputera różni się o { $minutes } minutę, przez co logowanie i bezpieczne strony nie działają.
    [few] Zegar tego komputera różni się o { $minutes } minuty, przez co logowanie i bezpieczne strony nie działają.
   *[other] Zegar tego komputera różni się o { $minutes } minut, przez co logowanie i bezpieczne strony nie działają.
}
said-clock-ok = Zegar jest ustawiony dobrze, więc problem z logowaniem leży gdzie indziej.
said-health-ok = Wszystkie testy wypadły dobrze: na tym komputerze nie znaleziono problemu.
said-health-problems = { $area ->
    [disk] Dysk jest pełny albo się psuje.
    [memory] Pamięć jest prawie pełna.
    [cpu] Procesor jest przeciążony.
    [thermal] Komputer jest za gorący.
    [battery] Bateria jest zużyta.
    [clock] Zegar komputera jest źle ustawiony.
    [network] Jest problem z połączeniem sieciowym.
    [reboot] Komputer trzeba uruchomić ponownie, żeby dokończyć instalację aktualizacji.
    [crash] Jeden z programów ciągle się zamyka.
   *[other] Coś na tym komputerze wymaga uwagi.
} { $count ->
    [one] Testy znalazły w sumie { $count } problem; dział IT widzi szczegóły.
    [few] Testy znalazły w sumie { $count } problemy; dział IT widzi szczegóły.
   *[other] Testy znalazły w sumie { $count } problemów; dział IT widzi szczegóły.
}
advice-wait-for-it = Tego nie da się naprawić na Twoim komputerze: musi się tym zająć dział IT.
advice-web-give-address = Jeśli nie otwiera się jedna strona, wyślij zgłoszenie z jej adresem, na przykład intranet.example.com.
advice-web-reload = Odśwież stronę (F5). Jeśli nadal nie działa, wyślij zgłoszenie z komunikatem, który pokazuje strona.
advice-web-check-spelling = Sprawdź, czy adres { $site } jest wpisany poprawnie.
advice-web-no-click-through = Nie pomijaj ostrzeżenia o bezpieczeństwie i nie wpisuj haseł na tej stronie.
advice-vpn-first = Jeśli pracujesz poza biurem, najpierw połącz się z VPN i spróbuj ponownie.
advice-net-cable-wifi = Sprawdź kabel sieciowy albo włącz Wi-Fi i spróbuj ponownie.
advice-net-reconnect = Wyłącz i włącz Wi-Fi albo odłącz kabel sieciowy i podłącz go ponownie.
advice-net-restart-router = W domu uruchom ponownie router: odłącz go od prądu, odczekaj 30 sekund i podłącz z powrotem.
advice-slow-close-program = Zapisz swoją pracę i zamknij { $program }. Jeśli się nie zamyka, uruchom komputer ponownie.
advice-slow-close-programs = Zamknij programy, których nie używasz; jeśli nadal jest wolno, uruchom komputer ponownie.
advice-slow-close-programs-named = Zamknij kilka programów; { $program } zajmuje { $gb } GB.
advice-slow-wait = Poczekaj kilka minut, aż skończy. Jeśli nadal będzie wolno, uruchom komputer ponownie.
advice-slow-cool = Upewnij się, że otwory wentylacyjne nie są zasłonięte, a komputer stoi na twardej powierzchni.
advice-slow-name-program = Jeśli wolno działa jeden program, wyślij zgłoszenie z jego nazwą.
advice-disk-save-elsewhere = Zapisz swoją pracę na dysku sieciowym albo w OneDrive.
advice-disk-free-space = Usuń niepotrzebne pliki i opróżnij Kosz.
advice-disk-name-program = Jeśli nie zapisuje jeden program, wyślij zgłoszenie z nazwą programu i folderu.
advice-crash-save-restart = Często zapisuj swoją pracę i uruchom komputer ponownie. Jeśli { $program } nadal się zamyka, dział IT ma jego raporty o awariach.
advice-crash-describe = Wyślij zgłoszenie: co robiłeś, gdy program się zamknął, i co było widać na ekranie.
advice-print-restart-computer = Uruchom komputer ponownie i wydrukuj jeszcze raz.
advice-print-check-power = Sprawdź, czy drukarka jest włączona, podłączona i nie pokazuje błędu.
advice-print-check-printer = Sprawdź w drukarce papier, toner i zacięte kartki, i usuń zablokowane dokumenty z kolejki wydruku.
advice-mail-restart = Zamknij program pocztowy i otwórz go ponownie, i sprawdź, czy skrzynka nie jest pełna.
advice-clock-sync = Włącz „Ustaw czas automatycznie” w ustawieniach daty i godziny albo uruchom komputer ponownie.
advice-clock-password = Sprawdź Caps Lock i język klawiatury, a potem wpisz hasło jeszcze raz. Jeśli konto jest zablokowane, zadzwoń do działu IT.
advice-health-restart = Zapisz swoją pracę i uruchom komputer ponownie, gdy tylko możesz.
advice-describe-problem = Napisz, co nie działa: który program i co widać na ekranie.
report-cli-found = Co znaleźliśmy:
report-cli-advice = Co zrobić teraz:
report-cli-sent = Wysłano do działu IT (numer { $reference }). Widzą te wyniki; nie musisz ich powtarzać.
report-note-rate-limited = { $count ->
    [one] Wysłano już { $count } zgłoszenie
    [few] Wysłano już { $count } zgłoszenia
   *[other] Wysłano już { $count } zgłoszeń
} w ciągu ostatnich { $window_minutes } min. Dział IT je ma, więc nie trzeba wysyłać kolejnych. Następne możesz wysłać za { $wait_minutes } min.
report-note-busy = Program pomocy na tym komputerze obsługuje teraz inne zgłoszenia. Spróbuj ponownie za minutę.
report-note-unreadable = Nie udało się odczytać zgłoszenia. Spróbuj ponownie i opisz w kilku słowach, co nie działa.
report-note-broken-setup = Program pomocy na tym komputerze nie jest poprawnie ustawiony. Zadzwoń do działu IT.
report-note-not-queued = Nie udało się wysłać zgłoszenia do działu IT. Zadzwoń do nich.
report-note-agent-down = Nie wysłano: program pomocy nie działa na tym komputerze. Zadzwoń do działu IT.

## help: `firstline-agent help` and the desktop's "Get IT help"

help-link = Twoja strona pomocy IT: { $url } — otwórz ją w przeglądarce. Link działa tylko raz i tylko przez kilka minut.
help-opening = Otwieram Twoją stronę pomocy IT w przeglądarce: { $url }
help-open-failed = Nie udało się otworzyć przeglądarki. Skopiuj ten link do przeglądarki (działa tylko raz i tylko przez kilka minut): { $url }
help-agent-not-running = Usługa wsparcia IT nie działa na tym komputerze, więc nie można otworzyć Twojej strony pomocy.
help-unreachable = W tej chwili nie można połączyć się z działem IT z tego komputera: komputer może być bez internetu albo sieć może nie działać.
help-no-answer = Dział IT nie odpowiedział na czas. Spróbuj ponownie za minutę.
help-refused = Dział IT nie mógł otworzyć Twojej strony pomocy: { $reason }
help-too-many = W ciągu ostatniej minuty strona pomocy była otwierana wiele razy. Odczekaj minutę i spróbuj ponownie.
help-failed = Nie udało się przygotować Twojej strony pomocy ({ $reason }).
help-what-to-do = Nadal możesz opisać problem działowi IT: otwórz terminal i wpisz firstline-agent report, a po tym własnymi słowami, co nie działa, na przykład: firstline-agent report drukarka nie drukuje. Możesz też zadzwonić do działu pomocy IT.
help-title = Pomoc IT

## notify

# The button on a desktop notification (a reply, a fix to confirm, an outage) that opens the help page.
notify-open-help = Otwórz pomoc

## help page: a fix the user may start (ask-user)

help-fix-offer = Możemy spróbować naprawić to teraz za Ciebie.
help-fix-button = Spróbuj naprawić
help-fix-running = Próbujemy naprawy na Twoim komputerze. Wynik pojawi się na tej stronie za minutę.
help-fix-what-disk-cleanup = Naprawa usuwa stare pliki tymczasowe, stare elementy z kosza i stare dane podręczne, aby zwolnić miejsce na dysku.
help-fix-what-dns-flush = Naprawa czyści listę adresów stron zapamiętanych przez komputer, aby wyszukał je ponownie.
help-fix-what-service-restart = Naprawa ponownie uruchamia program działający w tle, który się zatrzymał.
help-fix-what-print-restart = Naprawa ponownie uruchamia drukowanie i anuluje zablokowane wydruki.
help-fix-what-clock-resync = Naprawa ustawia prawidłową godzinę w zegarze komputera.
help-fix-what-process-end = Naprawa zamyka program, który spowalnia komputer. Najpierw zapisz w nim swoją pracę: niezapisane zmiany mogą zostać utracone.
help-fix-what-network-renew = Naprawa ponownie włącza połączenie sieciowe i prosi o nowy adres. Jeśli potem nie będzie połączenia z działem IT, przywróci poprzedni stan.
help-fix-started = Rozpoczęliśmy naprawę. Wynik pojawi się na tej stronie za minutę.
help-fix-not-now = Tej naprawy nie można teraz uruchomić stąd. Twój zespół IT widzi Twoje zgłoszenie.

## the printing playbook: jobs stuck in the queue

said-print-stuck = { $count ->
    [one] Jedno zadanie drukowania czeka w kolejce dłużej niż { $minutes } minut: drukowanie utknęło.
    [few] { $count } zadania drukowania czekają w kolejce dłużej niż { $minutes } minut: drukowanie utknęło.
   *[many] { $count } zadań drukowania czeka w kolejce dłużej niż { $minutes } minut: drukowanie utknęło.
}
advice-print-stuck = Twój zespół IT może anulować zablokowane wydruki i ponownie uruchomić drukowanie. Potem wydrukuj dokument jeszcze raz.
