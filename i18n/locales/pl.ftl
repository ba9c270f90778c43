# Teksty Firstline dla użytkowników, po polsku.

language-name = Polski

report-count = { $count ->
    [one] { $count } zgłoszenie
    [few] { $count } zgłoszenia
   *[many] { $count } zgłoszeń
}

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
