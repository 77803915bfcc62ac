"""Clinical code lists for the demo generator: conditions, medications, allergies, vaccines, labs.

Only codes that exist in the named code systems are listed; displays follow the code system's
preferred wording closely enough for people to recognise them.
"""

from __future__ import annotations

from typing import NamedTuple

SNOMED = "http://snomed.info/sct"
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
CVX = "http://hl7.org/fhir/sid/cvx"
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
CPT = "http://www.ama-assn.org/go/cpt"
NPI = "http://hl7.org/fhir/sid/us-npi"
NUCC = "http://nucc.org/provider-taxonomy"
THO = "http://terminology.hl7.org/CodeSystem/"

# ------------------------------------------------------------------------------ conditions


class Chronic(NamedTuple):
    """A long-lasting problem: its codes, who gets it and how it is managed."""

    key: str
    icd10: str
    icd10_display: str
    snomed: str
    snomed_display: str
    text: str
    prevalence: tuple[tuple[float, float], ...]  # (age, share of people that age who have it)
    female: float = 1.0  # prevalence multiplier for women
    male: float = 1.0  # and for men
    onset: tuple[float, float] | None = None  # fixed onset age range instead of the curve
    meds: tuple[tuple[str, ...], ...] = ()  # alternative regimens, each a tuple of med keys
    visits: int = 0  # follow-up visits a year while active
    dedicated: bool = True  # diagnosed at a visit of its own (else at the next routine visit)
    confirm: tuple[str, ...] = ()  # lab panels drawn at the diagnosing visit


# fmt: off
CHRONIC: tuple[Chronic, ...] = (
    Chronic("hypertension", "I10", "Essential (primary) hypertension", "38341003",
            "Hypertensive disorder, systemic arterial (disorder)", "Hypertension",
            prevalence=((18, 0.01), (30, 0.06), (45, 0.2), (60, 0.42), (75, 0.62), (95, 0.7)),
            male=1.1,
            meds=(("lisinopril10",), ("lisinopril10",), ("amlodipine5",), ("hctz25",),
                  ("lisinopril20", "amlodipine5")),
            visits=2, confirm=("bmp",)),
    Chronic("diabetes", "E11.9", "Type 2 diabetes mellitus without complications", "44054006",
            "Diabetes mellitus type 2 (disorder)", "Type 2 diabetes mellitus",
            prevalence=((25, 0.005), (40, 0.05), (55, 0.13), (70, 0.2), (95, 0.2)),
            meds=(("metformin500",),), visits=3, confirm=("a1c", "bmp")),
    Chronic("prediabetes", "R73.03", "Prediabetes", "15777000", "Prediabetes (finding)",
            "Prediabetes", prevalence=((20, 0.02), (40, 0.1), (60, 0.16), (95, 0.16)),
            dedicated=False, confirm=("a1c",)),
    Chronic("hyperlipidemia", "E78.5", "Hyperlipidemia, unspecified", "55822004",
            "Hyperlipidemia (disorder)", "Hyperlipidemia",
            prevalence=((20, 0.01), (35, 0.06), (50, 0.2), (65, 0.38), (95, 0.45)),
            meds=(("atorvastatin20",), ("atorvastatin20",), ("simvastatin20",)), visits=1,
            dedicated=False, confirm=("lipid",)),
    Chronic("obesity", "E66.9", "Obesity, unspecified", "414916001", "Obesity (disorder)",
            "Obesity", prevalence=(), dedicated=False),
    Chronic("asthma", "J45.909", "Unspecified asthma, uncomplicated", "195967001",
            "Asthma (disorder)", "Asthma", prevalence=((2, 0.08), (95, 0.08)), onset=(2.0, 40.0),
            meds=(("albuterol",), ("albuterol", "fluticasone")), visits=1),
    Chronic("hypothyroidism", "E03.9", "Hypothyroidism, unspecified", "40930008",
            "Hypothyroidism (disorder)", "Hypothyroidism",
            prevalence=((20, 0.005), (40, 0.03), (60, 0.06), (80, 0.08), (95, 0.08)), female=1.7,
            male=0.4, meds=(("levothyroxine75",),), visits=1, confirm=("tsh",)),
    Chronic("afib", "I48.91", "Unspecified atrial fibrillation", "49436004",
            "Atrial fibrillation (disorder)", "Atrial fibrillation",
            prevalence=((50, 0.0), (60, 0.02), (70, 0.05), (80, 0.1), (95, 0.12)), male=1.3,
            meds=(("warfarin5", "metoprolol100"), ("warfarin5",)), visits=4,
            confirm=("inr", "cbc")),
    Chronic("heart_failure", "I50.9", "Heart failure, unspecified", "84114007",
            "Heart failure (disorder)", "Heart failure",
            prevalence=((55, 0.0), (65, 0.02), (80, 0.07), (95, 0.1)),
            meds=(("lisinopril10", "metoprolol100"),), visits=3, confirm=("bmp",)),
    Chronic("cad", "I25.10",
            "Atherosclerotic heart disease of native coronary artery without angina pectoris",
            "53741008", "Coronary arteriosclerosis (disorder)", "Coronary artery disease",
            prevalence=((45, 0.0), (55, 0.03), (70, 0.09), (95, 0.14)), female=0.6, male=1.5,
            meds=(("aspirin81", "atorvastatin80"),
                  ("aspirin81", "atorvastatin80", "clopidogrel75")),
            visits=2, confirm=("lipid",)),
    Chronic("copd", "J44.9", "Chronic obstructive pulmonary disease, unspecified", "13645005",
            "Chronic obstructive lung disease (disorder)", "COPD",
            prevalence=((40, 0.0), (55, 0.04), (70, 0.09), (95, 0.1)),
            meds=(("fluticasone_salmeterol", "albuterol"),), visits=2),
    Chronic("depression", "F32.9", "Major depressive disorder, single episode, unspecified",
            "370143000", "Major depressive disorder (disorder)", "Depression",
            prevalence=((13, 0.06), (95, 0.06)), female=1.5, male=0.7, onset=(13.0, 70.0),
            visits=2),
    Chronic("anxiety", "F41.1", "Generalized anxiety disorder", "21897009",
            "Generalized anxiety disorder (disorder)", "Generalized anxiety disorder",
            prevalence=((12, 0.05), (95, 0.05)), female=1.5, male=0.7, onset=(12.0, 60.0),
            visits=1),
    Chronic("allergic_rhinitis", "J30.2", "Other seasonal allergic rhinitis", "367498001",
            "Seasonal allergic rhinitis (disorder)", "Seasonal allergies",
            prevalence=((3, 0.14), (95, 0.14)), onset=(3.0, 40.0), meds=(("loratadine",),)),
    Chronic("knee_oa", "M17.9", "Osteoarthritis of knee, unspecified", "239873007",
            "Osteoarthritis of knee (disorder)", "Osteoarthritis of knee",
            prevalence=((45, 0.0), (55, 0.06), (70, 0.15), (95, 0.25)), female=1.3, male=0.8,
            meds=(("naproxen500",), ("acetaminophen325",)), visits=1),
    Chronic("gout", "M10.9", "Gout, unspecified", "90560007", "Gout (disorder)", "Gout",
            prevalence=((30, 0.0), (50, 0.03), (70, 0.06), (95, 0.06)), female=0.4, male=1.8,
            meds=(("allopurinol100",),), visits=1),
    Chronic("atopic_dermatitis", "L20.9", "Atopic dermatitis, unspecified", "24079001",
            "Atopic dermatitis (disorder)", "Eczema", prevalence=((0.3, 0.12), (95, 0.12)),
            onset=(0.3, 3.0), meds=(("hydrocortisone_cream",),)),
    Chronic("anemia", "D64.9", "Anemia, unspecified", "271737000", "Anemia (disorder)", "Anemia",
            prevalence=((14, 0.03), (50, 0.03), (65, 0.05), (95, 0.1)), female=1.8, male=0.5,
            meds=(("ferrous_sulfate",),), visits=1, confirm=("cbc",)),
    Chronic("migraine", "G43.909",
            "Migraine, unspecified, not intractable, without status migrainosus", "37796009",
            "Migraine (disorder)", "Migraine", prevalence=((12, 0.08), (95, 0.08)), female=1.6,
            male=0.5, onset=(12.0, 45.0), meds=(("naproxen_sodium220",),)),
)
# fmt: on
CHRONIC_BY_KEY = {c.key: c for c in CHRONIC}


class Acute(NamedTuple):
    """A short illness seen at a sick visit."""

    key: str
    icd10: str
    icd10_display: str
    snomed: str
    snomed_display: str
    text: str
    ages: tuple[float, float]
    weight_child: float
    weight_adult: float
    days: tuple[int, int]  # how long it lasts
    fever: float  # chance of a raised temperature at the visit
    meds: tuple[tuple[str, float], ...] = ()  # (med key, chance it is prescribed)
    female: float = 1.0
    male: float = 1.0
    months: tuple[int, ...] = ()  # more likely in these months
    since: str = ""  # first date (ISO) it can occur
    respiratory: bool = False


# fmt: off
ACUTE: tuple[Acute, ...] = (
    Acute("uri", "J06.9", "Acute upper respiratory infection, unspecified", "54150009",
          "Upper respiratory infection (disorder)", "Common cold", ages=(0, 120), weight_child=5.0,
          weight_adult=2.5, days=(5, 10), fever=0.2, months=(10, 11, 12, 1, 2, 3),
          respiratory=True),
    Acute("strep", "J02.0", "Streptococcal pharyngitis", "43878008",
          "Streptococcal sore throat (disorder)", "Strep throat", ages=(3, 60), weight_child=2.0,
          weight_adult=0.6, days=(7, 10), fever=0.6, meds=(("penicillin_v500", 0.95),),
          months=(11, 12, 1, 2, 3, 4)),
    Acute("pharyngitis", "J02.9", "Acute pharyngitis, unspecified", "195662009",
          "Acute viral pharyngitis (disorder)", "Sore throat", ages=(2, 120), weight_child=1.5,
          weight_adult=1.2, days=(4, 8), fever=0.3),
    Acute("otitis", "H66.90", "Otitis media, unspecified, unspecified ear", "65363002",
          "Otitis media (disorder)", "Ear infection", ages=(0.4, 90), weight_child=4.0,
          weight_adult=0.2, days=(7, 14), fever=0.5, meds=(("amoxicillin250", 0.85),)),
    Acute("bronchitis", "J20.9", "Acute bronchitis, unspecified", "10509002",
          "Acute bronchitis (disorder)", "Acute bronchitis", ages=(5, 120), weight_child=0.5,
          weight_adult=1.4, days=(10, 21), fever=0.2, meds=(("acetaminophen325", 0.3),),
          months=(11, 12, 1, 2, 3), respiratory=True),
    Acute("bacterial_sinusitis", "J01.90", "Acute sinusitis, unspecified", "75498004",
          "Acute bacterial sinusitis (disorder)", "Sinus infection", ages=(5, 120),
          weight_child=0.4, weight_adult=0.9, days=(10, 14), fever=0.3,
          meds=(("amoxicillin_clavulanate", 0.9),)),
    Acute("viral_sinusitis", "J01.90", "Acute sinusitis, unspecified", "444814009",
          "Viral sinusitis (disorder)", "Sinusitis", ages=(5, 120), weight_child=0.6,
          weight_adult=1.4, days=(7, 12), fever=0.1, respiratory=True),
    Acute("cystitis", "N30.00", "Acute cystitis without hematuria", "38822007",
          "Cystitis (disorder)", "Bladder infection", ages=(12, 120), weight_child=0.3,
          weight_adult=1.3, days=(3, 7), fever=0.1, meds=(("cefuroxime250", 0.9),), male=0.1),
    Acute("ankle_sprain", "S93.409A",
          "Sprain of unspecified ligament of unspecified ankle, initial encounter", "44465007",
          "Sprain of ankle (disorder)", "Ankle sprain", ages=(6, 70), weight_child=0.7,
          weight_adult=0.6, days=(14, 42), fever=0.0,
          meds=(("ibuprofen200", 0.5), ("naproxen_sodium220", 0.3))),
    Acute("low_back_pain", "M54.50", "Low back pain, unspecified", "279039007",
          "Low back pain (finding)", "Low back pain", ages=(18, 120), weight_child=0.0,
          weight_adult=1.3, days=(14, 60), fever=0.0, meds=(("naproxen500", 0.6),)),
    Acute("influenza", "J11.1",
          "Influenza due to unidentified influenza virus with other respiratory manifestations",
          "6142004", "Influenza (disorder)", "Influenza", ages=(0.5, 120), weight_child=1.2,
          weight_adult=0.8, days=(7, 14), fever=0.9, months=(12, 1, 2, 3), respiratory=True),
    Acute("covid", "U07.1", "COVID-19", "840539006",
          "Disease caused by severe acute respiratory syndrome coronavirus 2 (disorder)",
          "COVID-19", ages=(0, 120), weight_child=0.6, weight_adult=1.0, days=(7, 21), fever=0.5,
          since="2020-03-15", respiratory=True),
    Acute("conjunctivitis", "H10.9", "Unspecified conjunctivitis", "9826008",
          "Conjunctivitis (disorder)", "Pink eye", ages=(0, 120), weight_child=1.2,
          weight_adult=0.3, days=(5, 10), fever=0.0),
    Acute("gastroenteritis", "A08.4", "Viral intestinal infection, unspecified", "25374005",
          "Gastroenteritis (disorder)", "Stomach bug", ages=(0, 120), weight_child=1.5,
          weight_adult=0.6, days=(2, 5), fever=0.3, months=(11, 12, 1, 2, 3)),
)
# fmt: on

# ------------------------------------------------------------------------------ medications


class Med(NamedTuple):
    """A clinical drug (RxNorm SCD/SBD) and the usual way it is prescribed (default: a tablet
    once a day, 90 dispensed)."""

    key: str
    rxnorm: str
    display: str
    sig: str
    frequency: int = 1
    period: float = 1
    period_unit: str = "d"  # UCUM time unit code as Timing uses it (h, d, wk)
    dose: float = 1
    form: str = "{tbl}"  # UCUM annotation of the dose unit: {tbl}, {cap}, {puff}
    form_display: str = "tablet"
    route: str = "oral"  # key in ROUTES
    supply: int = 90  # units dispensed
    supply_unit: str = "{tbl}"
    supply_unit_display: str = "tablet"
    days: int = 90  # days the supply lasts
    prn: bool = False
    prn_reason: str = ""


# fmt: off
MEDS: dict[str, Med] = {
    m.key: m
    for m in (
        Med("lisinopril10", "314076", "lisinopril 10 MG Oral Tablet",
            "Take 1 tablet by mouth once daily"),
        Med("lisinopril20", "314077", "lisinopril 20 MG Oral Tablet",
            "Take 1 tablet by mouth once daily"),
        Med("amlodipine5", "197361", "amlodipine 5 MG Oral Tablet",
            "Take 1 tablet by mouth once daily"),
        Med("hctz25", "310798", "hydrochlorothiazide 25 MG Oral Tablet",
            "Take 1 tablet by mouth once daily in the morning"),
        Med("metformin500", "860975",
            "24 HR metformin hydrochloride 500 MG Extended Release Oral Tablet",
            "Take 1 tablet by mouth once daily with the evening meal"),
        Med("atorvastatin20", "617310", "atorvastatin 20 MG Oral Tablet",
            "Take 1 tablet by mouth once daily"),
        Med("atorvastatin80", "259255", "atorvastatin 80 MG Oral Tablet",
            "Take 1 tablet by mouth once daily"),
        Med("simvastatin20", "312961", "simvastatin 20 MG Oral Tablet",
            "Take 1 tablet by mouth once daily in the evening"),
        Med("albuterol", "745679", "200 ACTUAT albuterol 0.09 MG/ACTUAT Metered Dose Inhaler",
            "Inhale 2 puffs every 4 to 6 hours as needed for wheezing or shortness of breath",
            period=4, period_unit="h", dose=2, form="{puff}", form_display="puff", route="inhaled",
            supply=1, supply_unit="{inhaler}", supply_unit_display="inhaler", days=30, prn=True,
            prn_reason="wheezing or shortness of breath"),
        Med("fluticasone", "895994",
            "120 ACTUAT fluticasone propionate 0.044 MG/ACTUAT Metered Dose Inhaler",
            "Inhale 2 puffs twice daily; rinse mouth after use", frequency=2, dose=2,
            form="{puff}", form_display="puff", route="inhaled", supply=1, supply_unit="{inhaler}",
            supply_unit_display="inhaler", days=30),
        Med("fluticasone_salmeterol", "896209",
            "60 ACTUAT fluticasone propionate 0.25 MG/ACTUAT / salmeterol 0.05 MG/ACTUAT Dry "
            "Powder Inhaler", "Inhale 1 puff twice daily", frequency=2, form="{puff}",
            form_display="puff", route="inhaled", supply=1, supply_unit="{inhaler}",
            supply_unit_display="inhaler", days=30),
        Med("levothyroxine75", "966222", "levothyroxine sodium 0.075 MG Oral Tablet",
            "Take 1 tablet by mouth once daily on an empty stomach"),
        Med("warfarin5", "855332", "warfarin sodium 5 MG Oral Tablet",
            "Take 1 tablet by mouth once daily in the evening, or as directed by INR"),
        Med("metoprolol100", "866414",
            "24 HR metoprolol succinate 100 MG Extended Release Oral Tablet [Toprol]",
            "Take 1 tablet by mouth once daily"),
        Med("aspirin81", "243670", "aspirin 81 MG Oral Tablet",
            "Take 1 tablet by mouth once daily"),
        Med("clopidogrel75", "309362", "clopidogrel 75 MG Oral Tablet",
            "Take 1 tablet by mouth once daily"),
        Med("loratadine", "311372", "loratadine 10 MG Oral Tablet",
            "Take 1 tablet by mouth once daily as needed for allergy symptoms", supply=30, days=30,
            prn=True, prn_reason="allergy symptoms"),
        Med("loratadine_chewable", "665078", "loratadine 5 MG Chewable Tablet",
            "Chew 1 tablet once daily as needed for allergy symptoms", supply=30, days=30,
            prn=True, prn_reason="allergy symptoms"),
        Med("naproxen500", "198014", "naproxen 500 MG Oral Tablet",
            "Take 1 tablet by mouth twice daily with food as needed for pain", frequency=2,
            supply=60, days=30, prn=True, prn_reason="pain"),
        Med("naproxen_sodium220", "849574", "naproxen sodium 220 MG Oral Tablet",
            "Take 1 tablet by mouth every 8 to 12 hours as needed for pain", period=8,
            period_unit="h", supply=30, days=15, prn=True, prn_reason="pain"),
        Med("acetaminophen325", "313782", "acetaminophen 325 MG Oral Tablet",
            "Take 2 tablets by mouth every 6 hours as needed for pain or fever", period=6,
            period_unit="h", dose=2, supply=60, days=10, prn=True, prn_reason="pain or fever"),
        Med("ibuprofen200", "310965", "ibuprofen 200 MG Oral Tablet",
            "Take 2 tablets by mouth every 6 hours as needed for pain", period=6, period_unit="h",
            dose=2, supply=60, days=10, prn=True, prn_reason="pain"),
        Med("allopurinol100", "197319", "allopurinol 100 MG Oral Tablet",
            "Take 1 tablet by mouth once daily"),
        Med("hydrocortisone_cream", "106258", "hydrocortisone 10 MG/ML Topical Cream",
            "Apply a thin layer to the affected skin twice daily", frequency=2,
            form="{application}", form_display="application", route="topical", supply=30,
            supply_unit="g", supply_unit_display="g", days=30),
        Med("ferrous_sulfate", "310325", "ferrous sulfate 325 MG Oral Tablet",
            "Take 1 tablet by mouth once daily"),
        Med("penicillin_v500", "834102", "penicillin V potassium 500 MG Oral Tablet",
            "Take 1 tablet by mouth twice daily for 10 days", frequency=2, supply=20, days=10),
        Med("amoxicillin250", "308182", "amoxicillin 250 MG Oral Capsule",
            "Take 1 capsule by mouth three times daily for 10 days", frequency=3, form="{cap}",
            form_display="capsule", supply=30, supply_unit="{cap}", supply_unit_display="capsule",
            days=10),
        Med("amoxicillin_clavulanate", "562251",
            "amoxicillin 250 MG / clavulanate 125 MG Oral Tablet",
            "Take 1 tablet by mouth three times daily for 10 days", frequency=3, supply=30,
            days=10),
        Med("cefuroxime250", "309097", "cefuroxime 250 MG Oral Tablet",
            "Take 1 tablet by mouth twice daily for 7 days", frequency=2, supply=14, days=7),
    )
}
# fmt: on

# Medicines a listed allergy rules out, and what is prescribed instead.
PENICILLINS = frozenset({"penicillin_v500", "amoxicillin250", "amoxicillin_clavulanate"})
NSAIDS = frozenset({"naproxen500", "naproxen_sodium220", "ibuprofen200", "aspirin81"})

ROUTES = {
    "oral": ("26643006", "Oral route (qualifier value)"),
    "inhaled": ("447694001", "Respiratory tract route (qualifier value)"),
    "topical": ("6064005", "Topical route (qualifier value)"),
}

# ------------------------------------------------------------------------------ allergies


class Allergen(NamedTuple):
    system: str
    code: str
    display: str
    category: str  # medication | food | environment
    kind: str  # allergy | intolerance
    reactions: tuple[str, ...]  # keys in REACTIONS
    weight: float
    child_weight: float
    avoids: frozenset[str] = frozenset()  # med keys not to prescribe


# fmt: off
ALLERGENS: tuple[Allergen, ...] = (
    Allergen(RXNORM, "7980", "penicillin G", "medication", "allergy",
             reactions=("hives", "rash", "itching", "anaphylaxis"), weight=8, child_weight=2,
             avoids=PENICILLINS),
    Allergen(RXNORM, "723", "amoxicillin", "medication", "allergy", reactions=("rash", "hives"),
             weight=3, child_weight=2, avoids=PENICILLINS),
    Allergen(RXNORM, "10180", "sulfamethoxazole", "medication", "allergy",
             reactions=("rash", "itching"), weight=4, child_weight=0.5),
    Allergen(RXNORM, "2670", "codeine", "medication", "intolerance",
             reactions=("nausea", "vomiting"), weight=3, child_weight=0.2),
    Allergen(RXNORM, "1191", "aspirin", "medication", "allergy", reactions=("hives", "dyspnea"),
             weight=1.5, child_weight=0.2, avoids=NSAIDS),
    Allergen(RXNORM, "5640", "ibuprofen", "medication", "allergy", reactions=("hives", "rash"),
             weight=1, child_weight=0.3, avoids=NSAIDS),
    Allergen(RXNORM, "2231", "cephalexin", "medication", "allergy", reactions=("rash",), weight=1,
             child_weight=0.3, avoids=frozenset({"cefuroxime250"})),
    Allergen(SNOMED, "762952008", "Peanut (substance)", "food", "allergy",
             reactions=("hives", "anaphylaxis", "vomiting"), weight=1.5, child_weight=3),
    Allergen(SNOMED, "102263004", "Eggs (edible) (substance)", "food", "allergy",
             reactions=("hives", "vomiting"), weight=0.5, child_weight=2),
    Allergen(SNOMED, "3718001", "Cow's milk (substance)", "food", "intolerance",
             reactions=("diarrhea", "nausea"), weight=1, child_weight=1.5),
    Allergen(SNOMED, "44027008", "Seafood (substance)", "food", "allergy",
             reactions=("hives", "itching", "anaphylaxis"), weight=2, child_weight=0.5),
    Allergen(SNOMED, "111088007", "Latex (substance)", "environment", "allergy",
             reactions=("rash", "itching"), weight=1, child_weight=0.2),
    Allergen(SNOMED, "256277009", "Grass pollen (substance)", "environment", "allergy",
             reactions=("sneezing", "itching"), weight=3, child_weight=2),
    Allergen(SNOMED, "264287008", "Animal dander (substance)", "environment", "allergy",
             reactions=("sneezing", "dyspnea"), weight=2, child_weight=1.5),
    Allergen(SNOMED, "260147004", "House dust mite (organism)", "environment", "allergy",
             reactions=("sneezing", "cough"), weight=2, child_weight=1.5),
    Allergen(SNOMED, "288328004", "Bee venom (substance)", "environment", "allergy",
             reactions=("hives", "anaphylaxis"), weight=1, child_weight=0.5),
)
# fmt: on

REACTIONS = {
    "hives": ("247472004", "Wheal (finding)", "Hives"),
    "rash": ("271807003", "Eruption of skin (disorder)", "Skin rash"),
    "itching": ("418290006", "Itching (finding)", "Itching"),
    "anaphylaxis": ("39579001", "Anaphylaxis (disorder)", "Anaphylaxis"),
    "nausea": ("422587007", "Nausea (finding)", "Nausea"),
    "vomiting": ("422400008", "Vomiting (disorder)", "Vomiting"),
    "dyspnea": ("267036007", "Dyspnea (finding)", "Shortness of breath"),
    "sneezing": ("76067001", "Sneezing (finding)", "Sneezing"),
    "diarrhea": ("62315008", "Diarrhea (finding)", "Diarrhea"),
    "cough": ("49727002", "Cough (finding)", "Cough"),
}

NO_KNOWN_ALLERGY = ("716186003", "No known allergy (situation)")

# ------------------------------------------------------------------------------ vaccines

VACCINES = {
    "08": "Hep B, adolescent or pediatric",
    "20": "DTaP",
    "10": "IPV",
    "49": "Hib (PRP-OMP)",
    "100": "pneumococcal conjugate PCV 7",
    "133": "Pneumococcal conjugate PCV 13",
    "116": "rotavirus, pentavalent",
    "03": "MMR",
    "21": "varicella",
    "83": "Hep A, ped/adol, 2 dose",
    "115": "Tdap",
    "113": "Td (adult), 5 Lf tetanus toxoid, preservative free, adsorbed",
    "114": "meningococcal MCV4P",
    "62": "HPV, quadrivalent",
    "165": "HPV9",
    "141": "Influenza, seasonal, injectable",
    "150": "influenza, injectable, quadrivalent, preservative free",
    "135": "Influenza, high dose seasonal",
    "197": "influenza, high-dose, quadrivalent",
    "121": "zoster live",
    "187": "zoster recombinant",
    "33": "pneumococcal polysaccharide PPV23",
    "216": "Pneumococcal conjugate PCV20, polysaccharide CRM197 conjugate, adjuvant, "
    "preservative free",
    "207": "SARS-COV-2 (COVID-19) vaccine, mRNA, spike protein, LNP, preservative free, "
    "100 mcg/0.5mL dose",
    "208": "SARS-COV-2 (COVID-19) vaccine, mRNA, spike protein, LNP, preservative free, "
    "30 mcg/0.3mL dose",
}

# How each vaccine is given: (route code in v3-RouteOfAdministration, dose in mL).
VACCINE_ROUTE = {
    "116": ("PO", 2.0),
    "03": ("SQ", 0.5),
    "21": ("SQ", 0.5),
    "121": ("SQ", 0.65),
    "208": ("IM", 0.3),
}
ROUTE_DISPLAY = {
    "IM": "Injection, intramuscular",
    "SQ": "Injection, subcutaneous",
    "PO": "Swallow, oral",
}


class Dose(NamedTuple):
    """One dose of the childhood schedule, given between two ages (in days)."""

    series: str
    number: int
    start: int
    end: int


# fmt: off
CHILD_SCHEDULE: tuple[Dose, ...] = (
    Dose("hepb", 1, 0, 30), Dose("hepb", 2, 28, 120), Dose("hepb", 3, 168, 600),
    Dose("dtap", 1, 42, 120), Dose("dtap", 2, 105, 200), Dose("dtap", 3, 165, 400),
    Dose("dtap", 4, 440, 730), Dose("dtap", 5, 1460, 2555),
    Dose("ipv", 1, 42, 120), Dose("ipv", 2, 105, 200), Dose("ipv", 3, 165, 600),
    Dose("ipv", 4, 1460, 2555),
    Dose("hib", 1, 42, 120), Dose("hib", 2, 105, 200), Dose("hib", 3, 360, 600),
    Dose("pcv", 1, 42, 120), Dose("pcv", 2, 105, 200), Dose("pcv", 3, 165, 300),
    Dose("pcv", 4, 360, 600),
    Dose("rv", 1, 42, 104), Dose("rv", 2, 105, 160), Dose("rv", 3, 165, 240),
    Dose("mmr", 1, 360, 600), Dose("mmr", 2, 1460, 2555),
    Dose("var", 1, 360, 600), Dose("var", 2, 1460, 2555),
    Dose("hepa", 1, 360, 600), Dose("hepa", 2, 540, 900),
    Dose("tdap", 1, 4015, 4745),
    Dose("menacwy", 1, 4015, 4745), Dose("menacwy", 2, 5840, 6570),
    Dose("hpv", 1, 4015, 4745), Dose("hpv", 2, 4200, 5110),
)
# fmt: on

# ------------------------------------------------------------------------------ labs


class Analyte(NamedTuple):
    loinc: str
    display: str
    text: str
    ucum: str
    unit: str
    low: float | None
    high: float | None
    decimals: int


# fmt: off
ANALYTES: dict[str, Analyte] = {
    "glucose": Analyte("2345-7", "Glucose [Mass/volume] in Serum or Plasma", "Glucose", "mg/dL",
        "mg/dL", low=70, high=99, decimals=0),
    "bun": Analyte("3094-0", "Urea nitrogen [Mass/volume] in Serum or Plasma", "BUN", "mg/dL",
        "mg/dL", low=7, high=20, decimals=0),
    "creatinine": Analyte("2160-0", "Creatinine [Mass/volume] in Serum or Plasma", "Creatinine",
        "mg/dL", "mg/dL", low=0.6, high=1.3, decimals=2),
    "sodium": Analyte("2951-2", "Sodium [Moles/volume] in Serum or Plasma", "Sodium", "mmol/L",
        "mmol/L", low=135, high=145, decimals=0),
    "potassium": Analyte("2823-3", "Potassium [Moles/volume] in Serum or Plasma", "Potassium",
        "mmol/L", "mmol/L", low=3.5, high=5.1, decimals=1),
    "chloride": Analyte("2075-0", "Chloride [Moles/volume] in Serum or Plasma", "Chloride",
        "mmol/L", "mmol/L", low=98, high=107, decimals=0),
    "co2": Analyte("2028-9", "Carbon dioxide, total [Moles/volume] in Serum or Plasma", "CO2",
        "mmol/L", "mmol/L", low=22, high=29, decimals=0),
    "calcium": Analyte("17861-6", "Calcium [Mass/volume] in Serum or Plasma", "Calcium", "mg/dL",
        "mg/dL", low=8.6, high=10.3, decimals=1),
    "protein": Analyte("2885-2", "Protein [Mass/volume] in Serum or Plasma", "Total protein",
        "g/dL", "g/dL", low=6.0, high=8.3, decimals=1),
    "albumin": Analyte("1751-7", "Albumin [Mass/volume] in Serum or Plasma", "Albumin", "g/dL",
        "g/dL", low=3.5, high=5.0, decimals=1),
    "bilirubin": Analyte("1975-2", "Bilirubin.total [Mass/volume] in Serum or Plasma",
        "Total bilirubin", "mg/dL", "mg/dL", low=0.1, high=1.2, decimals=1),
    "alp": Analyte("6768-6", "Alkaline phosphatase [Enzymatic activity/volume] in Serum or Plasma",
        "Alkaline phosphatase", "U/L", "U/L", low=44, high=147, decimals=0),
    "ast": Analyte("1920-8",
        "Aspartate aminotransferase [Enzymatic activity/volume] in Serum or Plasma", "AST", "U/L",
        "U/L", low=10, high=40, decimals=0),
    "alt": Analyte("1742-6",
        "Alanine aminotransferase [Enzymatic activity/volume] in Serum or Plasma", "ALT", "U/L",
        "U/L", low=7, high=56, decimals=0),
    "cholesterol": Analyte("2093-3", "Cholesterol [Mass/volume] in Serum or Plasma",
        "Total cholesterol", "mg/dL", "mg/dL", low=None, high=200, decimals=0),
    "triglycerides": Analyte("2571-8", "Triglyceride [Mass/volume] in Serum or Plasma",
        "Triglycerides", "mg/dL", "mg/dL", low=None, high=150, decimals=0),
    "hdl": Analyte("2085-9", "Cholesterol in HDL [Mass/volume] in Serum or Plasma",
        "HDL cholesterol", "mg/dL", "mg/dL", low=40, high=None, decimals=0),
    "ldl": Analyte("13457-7", "Cholesterol in LDL [Mass/volume] in Serum or Plasma by calculation",
        "LDL cholesterol (calculated)", "mg/dL", "mg/dL", low=None, high=100, decimals=0),
    "a1c": Analyte("4548-4", "Hemoglobin A1c/Hemoglobin.total in Blood", "Hemoglobin A1c", "%",
        "%", low=4.0, high=5.6, decimals=1),
    "wbc": Analyte("6690-2", "Leukocytes [#/volume] in Blood by Automated count", "WBC", "10*3/uL",
        "10*3/uL", low=4.5, high=11.0, decimals=1),
    "rbc": Analyte("789-8", "Erythrocytes [#/volume] in Blood by Automated count", "RBC",
        "10*6/uL", "10*6/uL", low=4.2, high=5.9, decimals=2),
    "hemoglobin": Analyte("718-7", "Hemoglobin [Mass/volume] in Blood", "Hemoglobin", "g/dL",
        "g/dL", low=12.0, high=17.5, decimals=1),
    "hematocrit": Analyte("4544-3", "Hematocrit [Volume Fraction] of Blood by Automated count",
        "Hematocrit", "%", "%", low=36, high=50, decimals=1),
    "mcv": Analyte("787-2", "MCV [Entitic volume] by Automated count", "MCV", "fL", "fL", low=80,
        high=100, decimals=0),
    "platelets": Analyte("777-3", "Platelets [#/volume] in Blood by Automated count", "Platelets",
        "10*3/uL", "10*3/uL", low=150, high=400, decimals=0),
    "tsh": Analyte("3016-3", "Thyrotropin [Units/volume] in Serum or Plasma", "TSH", "m[IU]/L",
        "mIU/L", low=0.4, high=4.0, decimals=2),
    "inr": Analyte("6301-6", "INR in Platelet poor plasma by Coagulation assay", "INR", "{INR}",
        "INR", low=0.8, high=1.2, decimals=1),
}
# fmt: on

# Sex-specific reference ranges: analyte -> ((female low, high), (male low, high)).
SEX_RANGES = {
    "creatinine": ((0.59, 1.04), (0.74, 1.35)),
    "rbc": ((4.2, 5.4), (4.7, 6.1)),
    "hemoglobin": ((12.0, 15.5), (13.5, 17.5)),
    "hematocrit": ((36, 44), (41, 50)),
}


class Panel(NamedTuple):
    loinc: str
    display: str
    text: str
    analytes: tuple[str, ...]


BMP_ANALYTES = ("glucose", "bun", "creatinine", "sodium", "potassium", "chloride", "co2", "calcium")
PANELS: dict[str, Panel] = {
    "bmp": Panel(
        "24321-2",
        "Basic metabolic 2000 panel - Serum or Plasma",
        "Basic metabolic panel",
        BMP_ANALYTES,
    ),
    "cmp": Panel(
        "24323-8",
        "Comprehensive metabolic 2000 panel - Serum or Plasma",
        "Comprehensive metabolic panel",
        BMP_ANALYTES + ("protein", "albumin", "bilirubin", "alp", "ast", "alt"),
    ),
    "lipid": Panel(
        "24331-1",
        "Lipid 1996 panel - Serum or Plasma",
        "Lipid panel",
        ("cholesterol", "triglycerides", "hdl", "ldl"),
    ),
    "cbc": Panel(
        "58410-2",
        "CBC panel - Blood by Automated count",
        "Complete blood count",
        ("wbc", "rbc", "hemoglobin", "hematocrit", "mcv", "platelets"),
    ),
    "a1c": Panel("4548-4", "Hemoglobin A1c/Hemoglobin.total in Blood", "Hemoglobin A1c", ("a1c",)),
    "tsh": Panel("3016-3", "Thyrotropin [Units/volume] in Serum or Plasma", "TSH", ("tsh",)),
    "inr": Panel("6301-6", "INR in Platelet poor plasma by Coagulation assay", "INR", ("inr",)),
}

# ------------------------------------------------------------------------------ vital signs


class Vital(NamedTuple):
    loinc: str
    display: str
    text: str
    profile: str
    ucum: str
    unit: str


VITALS: dict[str, Vital] = {
    "bp": Vital(
        "85354-9",
        "Blood pressure panel with all children optional",
        "Blood pressure",
        "us-core-blood-pressure",
        "mm[Hg]",
        "mmHg",
    ),
    "heart_rate": Vital(
        "8867-4", "Heart rate", "Heart rate", "us-core-heart-rate", "/min", "beats/minute"
    ),
    "respiratory_rate": Vital(
        "9279-1",
        "Respiratory rate",
        "Respiratory rate",
        "us-core-respiratory-rate",
        "/min",
        "breaths/minute",
    ),
    "temperature": Vital(
        "8310-5", "Body temperature", "Temperature", "us-core-body-temperature", "Cel", "C"
    ),
    "weight": Vital("29463-7", "Body weight", "Weight", "us-core-body-weight", "kg", "kg"),
    "height": Vital("8302-2", "Body height", "Height", "us-core-body-height", "cm", "cm"),
    "bmi": Vital(
        "39156-5", "Body mass index (BMI) [Ratio]", "BMI", "us-core-bmi", "kg/m2", "kg/m2"
    ),
    "spo2": Vital(
        "59408-5",
        "Oxygen saturation in Arterial blood by Pulse oximetry",
        "Oxygen saturation",
        "us-core-pulse-oximetry",
        "%",
        "%",
    ),
}
SYSTOLIC = ("8480-6", "Systolic blood pressure")
DIASTOLIC = ("8462-4", "Diastolic blood pressure")
O2_SAT = ("2708-6", "Oxygen saturation in Arterial blood")

SMOKING = {
    "never": ("266919005", "Never smoked tobacco (finding)"),
    "current": ("449868002", "Smokes tobacco daily (finding)"),
    "former": ("8517006", "Ex-smoker (finding)"),
}

# ------------------------------------------------------------------------------ encounters

# Encounter kinds: (SNOMED code, SNOMED display, text).
VISIT_TYPES = {
    "well_child": ("410620009", "Well child visit (procedure)", "Well child visit"),
    "wellness": ("185349003", "Encounter for check up (procedure)", "Annual physical"),
    "followup": ("390906007", "Follow-up encounter (procedure)", "Follow-up visit"),
    "problem": ("185347001", "Encounter for problem (procedure)", "Office visit"),
    "acute": ("185345009", "Encounter for symptom (procedure)", "Sick visit"),
    "vaccine": (
        "33879002",
        "Administration of vaccine to produce active immunity (procedure)",
        "Immunization visit",
    ),
}

# CPT evaluation and management codes with short descriptions of our own.
CPT_CODES = {
    "99203": "Office visit, new patient, low complexity",
    "99204": "Office visit, new patient, moderate complexity",
    "99212": "Office visit, established patient, straightforward",
    "99213": "Office visit, established patient, low complexity",
    "99214": "Office visit, established patient, moderate complexity",
    "99381": "Preventive visit, new patient, infant",
    "99382": "Preventive visit, new patient, age 1-4",
    "99383": "Preventive visit, new patient, age 5-11",
    "99384": "Preventive visit, new patient, age 12-17",
    "99385": "Preventive visit, new patient, age 18-39",
    "99386": "Preventive visit, new patient, age 40-64",
    "99387": "Preventive visit, new patient, age 65 and over",
    "99391": "Preventive visit, established patient, infant",
    "99392": "Preventive visit, established patient, age 1-4",
    "99393": "Preventive visit, established patient, age 5-11",
    "99394": "Preventive visit, established patient, age 12-17",
    "99395": "Preventive visit, established patient, age 18-39",
    "99396": "Preventive visit, established patient, age 40-64",
    "99397": "Preventive visit, established patient, age 65 and over",
}
