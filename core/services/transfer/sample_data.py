"""Believable people, companies and events for ``mayak demo-data`` and the benchmark seeding tool."""

from __future__ import annotations

import random
from dataclasses import dataclass

RU_FIRST_M = ["Александр", "Дмитрий", "Максим", "Сергей", "Андрей", "Алексей", "Артём", "Илья", "Кирилл", "Михаил",
              "Никита", "Матвей", "Роман", "Егор", "Арсений", "Иван", "Денис", "Евгений", "Тимофей", "Владимир"]
RU_FIRST_F = ["Анна", "Мария", "Елена", "Ольга", "Наталья", "Екатерина", "Татьяна", "Ирина", "Светлана",
              "Юлия", "Анастасия", "Дарья", "Ксения", "Виктория", "Полина", "Алина", "Вера", "Галина"]
RU_LAST = ["Иванов", "Смирнов", "Кузнецов", "Попов", "Васильев", "Петров", "Соколов", "Михайлов", "Новиков",
           "Фёдоров", "Морозов", "Волков", "Алексеев", "Лебедев", "Семёнов", "Егоров", "Павлов", "Козлов",
           "Степанов", "Николаев", "Орлов", "Андреев", "Макаров", "Никитин", "Захаров", "Зайцев", "Соловьёв"]
RU_MIDDLE_M = ["Александрович", "Сергеевич", "Дмитриевич", "Андреевич", "Иванович", "Петрович", "Михайлович"]
RU_MIDDLE_F = ["Александровна", "Сергеевна", "Дмитриевна", "Андреевна", "Ивановна", "Петровна", "Олеговна"]
EN_FIRST = ["James", "Olivia", "William", "Emma", "Oliver", "Sophia", "Henry", "Amelia", "Lucas", "Mia",
            "Jack", "Grace", "Thomas", "Chloe", "Daniel", "Ella"]
EN_LAST = ["Smith", "Johnson", "Brown", "Taylor", "Wilson", "Davies", "Evans", "Thomas", "Roberts", "Walker",
           "Wright", "Robinson", "Thompson", "White", "Hughes", "Green"]
RU_COMPANY_WORDS = ["Ромашка", "Вектор", "Северсталь-Сервис", "Гранит", "Альфа-Строй", "ТехноПарк", "Волга-Логистик",
                    "Уральские окна", "Сибирский лес", "Восход", "Меридиан", "Балтика-Трейд", "Кедр", "Стройинвест",
                    "Полярная звезда", "Зелёный сад", "АвтоМир", "МедЛайн", "Профит", "Горизонт"]
EN_COMPANY_WORDS = ["Northwind", "Bluebird", "Riverside", "Oakridge", "Summit", "Harbor", "Redwood", "Silverline"]
INDUSTRIES_RU = ["Строительство", "Розница", "Логистика", "Производство", "Медицина", "Автосервис", "Образование",
                 "Общепит", "Недвижимость", "IT"]
CITIES_RU = [("Москва", "Москва"), ("Санкт-Петербург", "Санкт-Петербург"), ("Казань", "Татарстан"),
             ("Екатеринбург", "Свердловская область"), ("Новосибирск", "Новосибирская область"),
             ("Нижний Новгород", "Нижегородская область"), ("Самара", "Самарская область"),
             ("Краснодар", "Краснодарский край"), ("Пермь", "Пермский край"), ("Тверь", "Тверская область")]
CITIES_EN = [("London", "England"), ("Manchester", "England"), ("Dublin", "Leinster")]
SOURCES = ["Сайт", "Рекомендация", "Выставка", "Листовка", "Реклама в журнале", "Холодный звонок", "Яндекс.Директ"]
TITLES = ["Директор", "Генеральный директор", "Менеджер по закупкам", "Главный бухгалтер", "Коммерческий директор",
          "Инженер", "Руководитель отдела продаж", "Офис-менеджер"]
NOTES = ["Просит перезвонить после обеда.", "Интересуется оптовыми ценами, отправили прайс.",
         "Договорились о встрече в офисе клиента.", "Клиент доволен последней поставкой.",
         "Нужно уточнить реквизиты для счёта.", "Предпочитает связь по email, звонить только в рабочее время.",
         "Ждёт коммерческое предложение до пятницы.", "Обсудили скидку при годовом контракте."]
CALLS = ["Входящий звонок: вопрос по доставке", "Исходящий звонок: напоминание об оплате",
         "Входящий звонок: запрос прайса", "Исходящий звонок: согласование встречи"]
EMAILS = ["Коммерческое предложение", "Счёт на оплату", "Re: Условия поставки", "Договор на подпись",
          "Акт сверки за квартал"]
MEETINGS = ["Встреча в офисе клиента", "Презентация продукта", "Переговоры по годовому контракту"]


@dataclass(frozen=True)
class Texts:
    """What a demo installation says, in one language: its team, its people's words and its deals."""

    team: str
    users: tuple[str, str, str]  # manager, two sales people
    sources: list[str]
    titles: list[str]
    notes: list[str]
    calls: list[str]
    emails: list[str]
    meetings: list[str]
    deals: tuple[str, ...]
    tasks: tuple[str, ...]
    tags: list[str]
    purchase: str  # with {amount}
    payment_note: str
    native_share: float  # how many clients are of the installation's own country


TEXTS: dict[str, Texts] = {
    "ru": Texts(
        team="Отдел продаж", users=("Ольга Руководитель", "Павел Продажин", "Марина Сбытова"),
        sources=SOURCES, titles=TITLES, notes=NOTES, calls=CALLS, emails=EMAILS, meetings=MEETINGS,
        deals=("Поставка окон", "Кухня на заказ", "Годовое обслуживание", "Партнёрская лицензия",
               "Монтаж вентиляции", "Оптовая партия", "Редизайн сайта", "Аренда оборудования"),
        tasks=("Перезвонить клиенту", "Отправить коммерческое предложение", "Отправить договор",
               "Уточнить сроки поставки", "Подготовить счёт", "Встреча в офисе клиента"),
        tags=["VIP", "опт", "розница", "новый", "постоянный"],
        purchase="Покупка на {amount} ₽", payment_note="оплата по счёту", native_share=0.85),
    "en": Texts(
        team="Sales team", users=("Olivia Manager", "Paul Seller", "Marina Sales"),
        sources=["Website", "Referral", "Trade show", "Flyer", "Magazine ad", "Cold call", "Google Ads"],
        titles=["Director", "Managing director", "Purchasing manager", "Chief accountant", "Sales director",
                "Engineer", "Head of sales", "Office manager"],
        notes=["Asked us to call back after lunch.", "Interested in wholesale prices; price list sent.",
               "Agreed to meet at the client's office.", "Happy with the last delivery.",
               "Need to check the billing details for the invoice.",
               "Prefers email; call only during office hours.", "Expects our proposal by Friday.",
               "Discussed a discount for a yearly contract."],
        calls=["Incoming call: delivery question", "Outgoing call: payment reminder",
               "Incoming call: price list request", "Outgoing call: arranging a meeting"],
        emails=["Commercial proposal", "Invoice", "Re: Terms of delivery", "Contract to sign",
                "Quarterly reconciliation"],
        meetings=["Meeting at the client's office", "Product presentation", "Yearly contract negotiation"],
        deals=("Window supply", "Custom kitchen", "Yearly maintenance", "Partner licence", "Ventilation install",
               "Wholesale lot", "Website redesign", "Equipment rental"),
        tasks=("Call the client back", "Send the proposal", "Send the contract", "Confirm delivery dates",
               "Prepare the invoice", "Meeting at the client's office"),
        tags=["VIP", "wholesale", "retail", "new", "regular"],
        purchase="Purchase of £{amount}", payment_note="paid by invoice", native_share=0.85),
}


def texts(locale: str | None) -> Texts:
    """The demo texts of the installation's language (Russian for ``ru``, English otherwise)."""
    return TEXTS["ru" if (locale or "").startswith("ru") else "en"]


@dataclass
class Person:
    first_name: str
    middle_name: str
    last_name: str
    phone: str
    email: str
    city: str
    region: str
    title: str
    source: str


def person(rng: random.Random, n: int, locale: str = "ru") -> Person:
    """A person of the installation's country most of the time, a foreign one sometimes; phones typed the many
    ways people type."""
    lang = texts(locale)
    russian = rng.random() < lang.native_share if lang is TEXTS["ru"] else rng.random() >= lang.native_share
    if russian:
        female = rng.random() < 0.5
        first = rng.choice(RU_FIRST_F if female else RU_FIRST_M)
        last = rng.choice(RU_LAST) + ("а" if female else "")
        middle = rng.choice(RU_MIDDLE_F if female else RU_MIDDLE_M)
        city, region = rng.choice(CITIES_RU)
        number = f"9{rng.randint(10, 99)}{rng.randint(100, 999)}{n % 10_000:04d}"
        phone = rng.choice([f"8 {number[:3]} {number[3:6]}-{number[6:8]}-{number[8:]}", f"+7{number}",
                            f"+7 ({number[:3]}) {number[3:6]}-{number[6:8]}-{number[8:]}", number])
        email = f"{_latin(first)}.{_latin(last)}{n}@{rng.choice(['mail.ru', 'yandex.ru', 'example.ru'])}"
    else:
        first, middle, last = rng.choice(EN_FIRST), "", rng.choice(EN_LAST)
        city, region = rng.choice(CITIES_EN)
        phone = f"+44 20 {7000 + n % 3000} {n % 10000:04d}"
        email = f"{first.lower()}.{last.lower()}{n}@example.co.uk"
    return Person(first, middle, last, phone, email, city, region, rng.choice(lang.titles), rng.choice(lang.sources))


def company_name(rng: random.Random, n: int, locale: str = "ru") -> tuple[str, str, str]:
    lang = texts(locale)
    russian = rng.random() < lang.native_share if lang is TEXTS["ru"] else rng.random() >= lang.native_share
    if russian:
        word = rng.choice(RU_COMPANY_WORDS)
        suffix = f" {n}" if n >= len(RU_COMPANY_WORDS) else ""
        name = f"{rng.choice(['ООО', 'АО', 'ИП'])} «{word}{suffix}»"
        return name, rng.choice(INDUSTRIES_RU), rng.choice(CITIES_RU)[0]
    return f"{rng.choice(EN_COMPANY_WORDS)} {rng.choice(['Ltd', 'LLC', 'Group'])} {n}", "Trade", "London"


_TRANSLIT = str.maketrans({"а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "е": "e", "ё": "e", "ж": "zh",
                           "з": "z", "и": "i", "й": "y", "к": "k", "л": "l", "м": "m", "н": "n", "о": "o", "п": "p",
                           "р": "r", "с": "s", "т": "t", "у": "u", "ф": "f", "х": "h", "ц": "ts", "ч": "ch",
                           "ш": "sh", "щ": "sch", "ъ": "", "ы": "y", "ь": "", "э": "e", "ю": "yu", "я": "ya"})


def _latin(text: str) -> str:
    return text.lower().translate(_TRANSLIT)
