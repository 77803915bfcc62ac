"""Names, places and demographic categories for the demo generator (all fictional combinations)."""

from __future__ import annotations

# fmt: off
MALE_GIVEN = (
    "James", "Robert", "John", "Michael", "David", "William", "Richard", "Joseph", "Thomas",
    "Christopher", "Charles", "Daniel", "Matthew", "Anthony", "Mark", "Donald", "Steven", "Andrew",
    "Paul", "Joshua", "Kenneth", "Kevin", "Brian", "George", "Timothy", "Ronald", "Jason",
    "Edward", "Jeffrey", "Ryan", "Jacob", "Gary", "Nicholas", "Eric", "Jonathan", "Stephen",
    "Larry", "Justin", "Scott", "Brandon", "Benjamin", "Samuel", "Gregory", "Alexander", "Patrick",
    "Frank", "Raymond", "Jack", "Dennis", "Jerry", "Tyler", "Aaron", "Henry", "Adam", "Douglas",
    "Nathan", "Peter", "Zachary", "Kyle", "Noah", "Ethan", "Jeremy", "Walter", "Christian",
    "Keith", "Roger", "Terry", "Austin", "Sean", "Gerald", "Carl", "Harold", "Dylan", "Arthur",
    "Lawrence", "Jordan", "Jesse", "Bryan", "Billy", "Bruce", "Gabriel", "Logan", "Alan", "Juan",
    "Albert", "Willie", "Elijah", "Wayne", "Randy", "Vincent", "Liam", "Mason", "Lucas", "Owen",
    "Caleb", "Isaac", "Marcus", "Darnell", "Andre", "Terrence", "Malik", "Jamal",
)
FEMALE_GIVEN = (
    "Mary", "Patricia", "Jennifer", "Linda", "Elizabeth", "Barbara", "Susan", "Jessica", "Sarah",
    "Karen", "Lisa", "Nancy", "Betty", "Sandra", "Margaret", "Ashley", "Kimberly", "Emily",
    "Donna", "Michelle", "Carol", "Amanda", "Melissa", "Deborah", "Stephanie", "Dorothy",
    "Rebecca", "Sharon", "Laura", "Cynthia", "Amy", "Kathleen", "Angela", "Shirley", "Brenda",
    "Emma", "Anna", "Pamela", "Nicole", "Samantha", "Katherine", "Christine", "Helen", "Debra",
    "Rachel", "Carolyn", "Janet", "Maria", "Catherine", "Heather", "Diane", "Olivia", "Julie",
    "Joyce", "Victoria", "Ruth", "Virginia", "Lauren", "Kelly", "Christina", "Joan", "Evelyn",
    "Judith", "Andrea", "Hannah", "Megan", "Cheryl", "Jacqueline", "Martha", "Madison", "Teresa",
    "Gloria", "Sara", "Janice", "Ann", "Kathryn", "Abigail", "Sophia", "Frances", "Jean", "Alice",
    "Judy", "Isabella", "Julia", "Grace", "Amber", "Denise", "Danielle", "Marilyn", "Beverly",
    "Charlotte", "Natalie", "Theresa", "Diana", "Brittany", "Doris", "Kayla", "Alexis", "Lori",
    "Ava", "Mia", "Harper", "Aaliyah", "Keisha", "Tamika", "Imani",
)
HISPANIC_MALE_GIVEN = (
    "Jose", "Luis", "Carlos", "Juan", "Jorge", "Miguel", "Alejandro", "Diego", "Javier",
    "Fernando", "Ricardo", "Eduardo", "Mateo", "Santiago", "Angel", "Rafael", "Manuel",
    "Francisco", "Oscar", "Hector",
)
HISPANIC_FEMALE_GIVEN = (
    "Maria", "Guadalupe", "Rosa", "Ana", "Carmen", "Sofia", "Valentina", "Camila", "Lucia",
    "Isabel", "Gabriela", "Daniela", "Adriana", "Veronica", "Alejandra", "Elena", "Paola",
    "Ximena", "Yesenia", "Marisol",
)
ASIAN_MALE_GIVEN = (
    "Wei", "Jun", "Hiroshi", "Minh", "Raj", "Arjun", "Sanjay", "Hao", "Kenji", "Duc", "Vikram",
    "Sung", "Jin", "Anil", "Tuan",
)
ASIAN_FEMALE_GIVEN = (
    "Mei", "Li", "Yuki", "Linh", "Priya", "Ananya", "Sakura", "Hana", "Thu", "Ji-woo", "Deepa",
    "Lan", "Min", "Kavya", "Xin",
)
SURNAMES = (
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Miller", "Davis", "Wilson", "Anderson",
    "Taylor", "Thomas", "Moore", "Jackson", "Martin", "Lee", "Thompson", "White", "Harris",
    "Clark", "Lewis", "Robinson", "Walker", "Young", "Allen", "King", "Wright", "Scott", "Hill",
    "Green", "Adams", "Baker", "Nelson", "Carter", "Mitchell", "Roberts", "Turner", "Phillips",
    "Campbell", "Parker", "Evans", "Edwards", "Collins", "Stewart", "Morris", "Murphy", "Cook",
    "Rogers", "Morgan", "Cooper", "Peterson", "Reed", "Bailey", "Bell", "Kelly", "Howard", "Ward",
    "Cox", "Richardson", "Wood", "Watson", "Brooks", "Bennett", "Gray", "James", "Hughes", "Price",
    "Sanders", "Myers", "Long", "Ross", "Foster", "Powell", "Jenkins", "Perry", "Russell",
    "Sullivan", "Coleman", "Butler", "Henderson", "Barnes", "Fisher", "Vasquez", "Simmons",
    "Graham", "Marshall", "Owens", "Harrison", "Gibson", "McDonald", "Wallace", "Hamilton",
    "Schmidt", "Mueller", "Kowalski", "Novak", "O'Brien", "Fitzgerald", "Schneider", "Weber",
    "Hoffman", "Becker", "Yoder", "Stoltzfus", "Washington", "Jefferson", "Freeman", "Greene",
    "Hayes", "Bryant", "Dixon", "Ellis", "Hussein", "Ali", "Mohamed", "Abdi",
)
HISPANIC_SURNAMES = (
    "Garcia", "Rodriguez", "Martinez", "Hernandez", "Lopez", "Gonzalez", "Perez", "Sanchez",
    "Ramirez", "Torres", "Flores", "Rivera", "Gomez", "Diaz", "Reyes", "Morales", "Cruz", "Ortiz",
    "Gutierrez", "Chavez", "Ramos", "Castillo", "Jimenez", "Ruiz", "Mendoza",
)
ASIAN_SURNAMES = (
    "Nguyen", "Tran", "Pham", "Chen", "Wang", "Li", "Zhang", "Liu", "Kim", "Park", "Choi", "Patel",
    "Shah", "Singh", "Kumar", "Tanaka", "Suzuki", "Yamamoto", "Huang", "Lin", "Wu", "Le", "Reddy",
    "Iyer",
)
NICKNAMES = {
    "William": "Bill",
    "Robert": "Bob",
    "Richard": "Rick",
    "James": "Jim",
    "Michael": "Mike",
    "Thomas": "Tom",
    "Joseph": "Joe",
    "Christopher": "Chris",
    "Daniel": "Dan",
    "Matthew": "Matt",
    "Anthony": "Tony",
    "Nicholas": "Nick",
    "Benjamin": "Ben",
    "Alexander": "Alex",
    "Jonathan": "Jon",
    "Samuel": "Sam",
    "Edward": "Ed",
    "Gregory": "Greg",
    "Timothy": "Tim",
    "Kenneth": "Ken",
    "Lawrence": "Larry",
    "Zachary": "Zach",
    "Elizabeth": "Liz",
    "Katherine": "Kate",
    "Margaret": "Peggy",
    "Patricia": "Pat",
    "Jennifer": "Jen",
    "Rebecca": "Becky",
    "Samantha": "Sam",
    "Victoria": "Tori",
    "Susan": "Sue",
    "Deborah": "Deb",
    "Kimberly": "Kim",
    "Christine": "Chris",
    "Catherine": "Cathy",
    "Abigail": "Abby",
    "Alejandro": "Alex",
    "Francisco": "Paco",
    "Guadalupe": "Lupe",
    "Isabella": "Bella",
    "Dorothy": "Dot",
    "Pamela": "Pam",
}
STREETS = (
    "Maple", "Oak", "Elm", "Cedar", "Pine", "Walnut", "Chestnut", "Willow", "Birch", "Hickory",
    "Sycamore", "Poplar", "Juniper", "Magnolia", "Dogwood", "Lakeview", "Hillcrest", "Meadow",
    "Ridge", "Park", "Sunset", "Highland", "Riverside", "Forest", "Spring", "Valley", "Orchard",
    "Prairie", "Harvest", "Brookside", "Cherry", "Greenway", "Fairview", "Summit", "Woodland",
    "Mill", "Church", "Market", "Franklin", "Jefferson", "Madison", "Lincoln", "Washington",
    "Adams", "Monroe", "Jackson", "Buckeye", "Olentangy", "Scioto", "Lancaster",
)
STREET_KINDS = ("St", "Ave", "Rd", "Dr", "Ln", "Ct", "Blvd", "Way", "Pl", "Cir")
# Central Ohio places and their ZIP codes.
CITIES = (
    ("Columbus", "43201"), ("Columbus", "43205"), ("Columbus", "43206"), ("Columbus", "43209"),
    ("Columbus", "43214"), ("Columbus", "43215"), ("Columbus", "43224"), ("Columbus", "43229"),
    ("Columbus", "43235"), ("Dublin", "43017"), ("Westerville", "43081"), ("Worthington", "43085"),
    ("Grove City", "43123"), ("Hilliard", "43026"), ("Gahanna", "43230"),
    ("Reynoldsburg", "43068"), ("Upper Arlington", "43221"), ("Delaware", "43015"),
    ("Lancaster", "43130"), ("Newark", "43055"), ("Pickerington", "43147"), ("Powell", "43065"),
    ("Lewis Center", "43035"), ("Canal Winchester", "43110"), ("Marysville", "43040"),
)
# fmt: on
AREA_CODES = ("614", "614", "614", "380", "740")

# OMB race categories (urn:oid:2.16.840.1.113883.6.238) with shares for the practice.
RACES = (
    ("2106-3", "White", 0.62),
    ("2054-5", "Black or African American", 0.25),
    ("2028-9", "Asian", 0.06),
    ("1002-5", "American Indian or Alaska Native", 0.005),
    ("2076-8", "Native Hawaiian or Other Pacific Islander", 0.005),
    ("multi", "", 0.04),
    ("ASKU", "Asked but no answer", 0.02),
)
HISPANIC = ("2135-2", "Hispanic or Latino")
NOT_HISPANIC = ("2186-5", "Not Hispanic or Latino")

LANGUAGES = {
    "en-US": "English (United States)",
    "es": "Spanish",
    "vi": "Vietnamese",
    "zh": "Chinese",
    "so": "Somali",
}

MARITAL = {
    "M": "Married",
    "S": "Never Married",
    "D": "Divorced",
    "W": "Widowed",
}
