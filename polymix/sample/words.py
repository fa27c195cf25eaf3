"""Small word lists for the generated sample corpus: enough for text that reads like text."""

SUBJECTS = (
    "the city council", "a local farmer", "the research team", "our neighbours", "the new teacher",
    "a young engineer", "the museum", "the football club", "a small company", "the hospital",
    "the students", "the library", "a travelling musician", "the government", "the old bakery",
    "the mayor", "a group of volunteers", "the river authority", "the school board", "the committee",
)
VERBS = (
    "announced", "discussed", "opened", "reviewed", "celebrated", "improved", "described",
    "planned", "questioned", "supported", "delayed", "published", "repaired", "visited", "measured",
    "rejected", "approved", "explained", "changed", "recorded",
)
OBJECTS = (
    "a plan for the harbour", "the results of the survey", "a new bridge across the river",
    "the budget for next year", "the history of the town", "a festival in the park",
    "the price of bread", "the schedule of the trains", "a report about clean water",
    "the design of the station", "an exhibition of old maps", "the rules for parking",
    "a study of local birds", "the repairs to the roof", "the quality of the roads",
    "a programme for older people", "the opening hours of the pool", "the cost of heating",
    "a garden behind the school", "the future of the market",
)
CLAUSES = (
    "after a long meeting", "because the weather was bad", "with the help of the residents",
    "before the end of the month", "although many people were worried", "in front of a large crowd",
    "for the first time in years", "without much explanation", "at the request of the council",
    "while the work continued", "during the summer holidays", "as the numbers went up",
)
CONNECTORS = (
    "However,", "Meanwhile,", "In addition,", "As a result,", "Later that day,", "According to them,",
    "For now,", "Still,", "On Monday,", "In the end,",
)
TOPICS = (
    "Harbour plan", "Town budget", "River bridge", "Summer festival", "Water report", "New station",
    "Market future", "School garden", "Road repairs", "Bird study", "Old maps", "Train schedule",
)
BOILERPLATE = (
    "Home | About us | Contact | Privacy policy",
    "This website uses cookies to improve your experience. Accept all cookies",
    "Subscribe to our newsletter for more stories like this",
    "Copyright 2024 Example Media. All rights reserved.",
    "Share this article on social media",
)
SPAM = (
    "buy", "cheap", "pills", "online", "best", "price", "free", "casino", "bonus", "click", "win",
    "now", "discount", "offer", "viagra", "loans", "fast", "cash", "deal", "sale",
)
FOREIGN = {
    "de": (
        "Die Stadt hat heute einen neuen Plan für den Hafen vorgestellt.",
        "Viele Bürger waren mit der Entscheidung des Rates nicht zufrieden.",
        "Der Bürgermeister sagte, dass die Arbeiten im nächsten Jahr beginnen werden.",
        "Im Sommer findet im Park wieder ein großes Fest statt.",
        "Die Schüler haben einen Garten hinter der Schule angelegt.",
        "Nach einer langen Sitzung wurde der Haushalt endlich beschlossen.",
        "Die Preise für Brot und Milch sind in diesem Monat gestiegen.",
        "Das Museum zeigt eine Ausstellung über alte Landkarten.",
    ),
    "fr": (
        "La ville a présenté aujourd'hui un nouveau projet pour le port.",
        "Beaucoup d'habitants n'étaient pas satisfaits de la décision du conseil.",
        "Le maire a déclaré que les travaux commenceront l'année prochaine.",
        "Cet été, une grande fête aura lieu de nouveau dans le parc.",
        "Les élèves ont créé un jardin derrière l'école.",
        "Après une longue réunion, le budget a enfin été adopté.",
        "Le prix du pain et du lait a augmenté ce mois-ci.",
        "Le musée présente une exposition de cartes anciennes.",
    ),
    "es": (
        "La ciudad presentó hoy un nuevo plan para el puerto.",
        "Muchos vecinos no estaban contentos con la decisión del consejo.",
        "El alcalde dijo que las obras comenzarán el próximo año.",
        "Este verano habrá otra vez una gran fiesta en el parque.",
        "Los alumnos han creado un jardín detrás de la escuela.",
        "Después de una larga reunión, por fin se aprobó el presupuesto.",
        "El precio del pan y de la leche ha subido este mes.",
        "El museo muestra una exposición de mapas antiguos.",
    ),
    "ru": (
        "Сегодня город представил новый план развития порта.",
        "Многие жители были недовольны решением совета.",
        "Мэр сказал, что работы начнутся в следующем году.",
        "Этим летом в парке снова пройдёт большой праздник.",
        "Ученики разбили сад за школой.",
        "После долгого заседания бюджет наконец был утверждён.",
        "Цены на хлеб и молоко в этом месяце выросли.",
        "Музей показывает выставку старых карт.",
    ),
}
CODE_NAMES = (
    "parse", "load", "render", "merge", "filter", "score", "split", "encode", "decode", "fetch",
    "update", "compute", "validate", "normalize", "collect", "resolve",
)
CODE_NOUNS = (
    "config", "record", "batch", "user", "token", "image", "report", "table", "event", "request",
    "shard", "vector", "graph", "cache",
)
