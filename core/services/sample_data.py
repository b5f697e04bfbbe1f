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


def person(rng: random.Random, n: int) -> Person:
    """A Russian person most of the time, an English one sometimes; phones typed the many ways people type."""
    if rng.random() < 0.85:
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
    return Person(first, middle, last, phone, email, city, region, rng.choice(TITLES), rng.choice(SOURCES))


def company_name(rng: random.Random, n: int) -> tuple[str, str, str]:
    if rng.random() < 0.85:
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
