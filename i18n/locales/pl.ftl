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
