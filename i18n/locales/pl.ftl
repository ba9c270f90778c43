# Teksty Firstline dla użytkowników, po polsku.

language-name = Polski

report-count = { $count ->
    [one] { $count } zgłoszenie
    [few] { $count } zgłoszenia
   *[many] { $count } zgłoszeń
}

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
