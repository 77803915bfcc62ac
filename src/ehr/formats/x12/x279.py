"""What we use of the 005010X279A1 implementation guide (270 inquiry, 271 response).

The loops, the segments each may hold (in guide order), and the code lists shown to people.
Everything the eligibility reader and writer know about the guide's structure is here.

Hierarchy (HL03 level code -> loops):

    2000A information source (payer)      HL*n**20*1   2100A NM1*PR
    2000B information receiver (provider) HL*n*p*21*1  2100B NM1*1P
    2000C subscriber                      HL*n*p*22*c  2100C NM1*IL   2110C EQ (270) / EB (271)
    2000D dependent                       HL*n*p*23*0  2100D NM1*03   2110D EQ (270) / EB (271)

In a 271, 2110C/D may hold LS ... LE around 2120C/D (benefit related entity: NM1, N3, N4,
PER, PRV), and III starts 2115C/D.
"""

from __future__ import annotations

from dataclasses import dataclass

VERSION = "005010X279A1"
# The pre-errata guide; the same structure for what we read (the corpus has 271s marked so).
ACCEPTED_VERSIONS = ("005010X279A1", "005010X279")
INQUIRY = ("HS", "270")  # GS01, ST01
RESPONSE = ("HB", "271")


@dataclass(frozen=True, slots=True)
class Level:
    code: str  # HL03
    hl_loop: str  # 2000x
    name_loop: str  # 2100x
    benefit_loop: str  # 2110x ("" for levels above the subscriber)
    entity: str  # NM101 expected
    label: str


LEVELS: dict[str, Level] = {
    "20": Level("20", "2000A", "2100A", "", "PR", "information source (payer)"),
    "21": Level("21", "2000B", "2100B", "", "1P", "information receiver (provider)"),
    "22": Level("22", "2000C", "2100C", "2110C", "IL", "subscriber"),
    "23": Level("23", "2000D", "2100D", "2110D", "03", "dependent"),
}
PARENT_LEVEL = {"20": "", "21": "20", "22": "21", "23": "22"}

# Segments each loop may hold after the segment that starts it (HL, NM1, EQ or EB).
_MEMBER_NAME = ("REF", "N3", "N4", "PRV", "DMG", "INS", "HI", "DTP")
LOOP_SEGMENTS_270: dict[str, tuple[str, ...]] = {
    "2000A": (), "2100A": (),
    "2000B": (), "2100B": ("REF", "N3", "N4", "PRV"),
    "2000C": ("TRN",), "2100C": _MEMBER_NAME, "2110C": ("AMT", "III", "REF", "DTP"),
    "2000D": ("TRN",), "2100D": _MEMBER_NAME, "2110D": ("III", "REF", "DTP"),
}  # fmt: skip
_MEMBER_NAME_271 = ("REF", "N3", "N4", "AAA", "PRV", "DMG", "INS", "HI", "DTP", "MPI")
_BENEFIT_271 = ("HSD", "REF", "DTP", "AAA", "MSG", "III", "LS", "LE")
LOOP_SEGMENTS_271: dict[str, tuple[str, ...]] = {
    "2000A": ("AAA",), "2100A": ("PER", "AAA", "PRV"),
    "2000B": (), "2100B": ("REF", "N3", "N4", "AAA", "PRV"),
    "2000C": ("TRN",), "2100C": _MEMBER_NAME_271, "2110C": _BENEFIT_271,
    "2000D": ("TRN",), "2100D": _MEMBER_NAME_271, "2110D": _BENEFIT_271,
}  # fmt: skip
# Inside LS ... LE (loop 2120C/D, the benefit related entity).
RELATED_ENTITY_SEGMENTS = ("NM1", "N3", "N4", "PER", "PRV")

# EB01 eligibility or benefit information.
ACTIVE_CODES = frozenset("12345")
INACTIVE_CODES = frozenset("678")
BENEFIT_INFO = {
    "1": "Active coverage", "2": "Active - full risk capitation",
    "3": "Active - services capitated",
    "4": "Active - services capitated to primary care physician",
    "5": "Active - pending investigation", "6": "Inactive",
    "7": "Inactive - pending eligibility update", "8": "Inactive - pending investigation",
    "A": "Co-insurance", "B": "Co-payment", "C": "Deductible", "CB": "Coverage basis",
    "D": "Benefit description", "E": "Exclusions", "F": "Limitations",
    "G": "Out of pocket (stop loss)", "H": "Unlimited", "I": "Non-covered",
    "J": "Cost containment", "K": "Reserve", "L": "Primary care provider",
    "M": "Pre-existing condition", "MC": "Managed care coordinator",
    "N": "Services restricted to following provider", "O": "Not deemed a medical necessity",
    "P": "Benefit disclaimer", "Q": "Second surgical opinion required",
    "R": "Other or additional payer", "S": "Prior year(s) history",
    "T": "Card(s) reported lost/stolen", "U": "Contact following entity for information",
    "V": "Cannot process", "W": "Other source of data", "X": "Health care facility",
    "Y": "Spend down",
}  # fmt: skip

# EB02 coverage level.
COVERAGE_LEVELS = {
    "CHD": "Children only", "DEP": "Dependents only", "ECH": "Employee and children",
    "EMP": "Employee only", "ESP": "Employee and spouse", "FAM": "Family",
    "IND": "Individual", "SPC": "Spouse and children", "SPO": "Spouse only",
}  # fmt: skip

# EB06 time period qualifier.
TIME_PERIODS = {
    "6": "Hour", "7": "Day", "13": "24 hours", "21": "Years", "22": "Service year",
    "23": "Calendar year", "24": "Year to date", "25": "Contract", "26": "Episode",
    "27": "Visit", "28": "Outlier", "29": "Remaining", "30": "Exceeded", "31": "Not exceeded",
    "32": "Lifetime", "33": "Lifetime remaining", "34": "Month", "35": "Week", "36": "Admission",
}  # fmt: skip
REMAINING_PERIODS = frozenset({"29", "33"})

# EB12 in plan network indicator.
NETWORK = {"Y": "In network", "N": "Out of network", "W": "Not applicable", "U": "Unknown"}

# EB04 insurance type (the common ones).
INSURANCE_TYPES = {
    "C1": "Commercial", "CO": "Consolidated Omnibus Budget Reconciliation Act (COBRA)",
    "EP": "Exclusive provider organization (EPO)", "HM": "Health maintenance organization (HMO)",
    "HN": "HMO - Medicare risk", "MA": "Medicare Part A", "MB": "Medicare Part B",
    "MC": "Medicaid", "MP": "Medicare primary", "PR": "Preferred provider organization (PPO)",
    "PS": "Point of service (POS)", "QM": "Qualified Medicare beneficiary",
    "SP": "Supplemental policy", "WC": "Workers compensation",
}  # fmt: skip

# Service type codes (EQ01, EB03): the ones a practice meets; others print as their code.
SERVICE_TYPES = {
    "1": "Medical care", "2": "Surgical", "3": "Consultation", "4": "Diagnostic X-ray",
    "5": "Diagnostic lab", "6": "Radiation therapy", "7": "Anesthesia",
    "8": "Surgical assistance", "12": "Durable medical equipment purchase",
    "14": "Renal supplies in the home", "18": "Durable medical equipment rental",
    "20": "Second surgical opinion", "23": "Diagnostic dental", "24": "Periodontics",
    "25": "Restorative", "26": "Endodontics", "27": "Maternity", "28": "Adjunctive dental",
    "30": "Health benefit plan coverage", "33": "Chiropractic", "35": "Dental care",
    "36": "Dental crowns", "37": "Dental accident", "38": "Orthodontics", "39": "Prosthodontics",
    "40": "Oral surgery", "41": "Routine (preventive) dental", "42": "Home health care",
    "45": "Hospice", "47": "Hospital", "48": "Hospital - inpatient",
    "50": "Hospital - outpatient", "51": "Hospital - emergency accident",
    "52": "Hospital - emergency medical", "53": "Hospital - ambulatory surgical",
    "54": "Long term care", "56": "Medically related transportation", "60": "General benefits",
    "61": "In-vitro fertilization", "62": "MRI/CAT scan", "65": "Newborn care",
    "68": "Well baby care", "69": "Maternity", "73": "Diagnostic medical",
    "76": "Dialysis", "78": "Chemotherapy", "80": "Immunizations", "81": "Routine physical",
    "82": "Family planning", "83": "Infertility", "84": "Abortion", "86": "Emergency services",
    "88": "Pharmacy", "93": "Podiatry", "98": "Professional (physician) visit - office",
    "99": "Professional (physician) visit - inpatient",
    "A0": "Professional (physician) visit - outpatient",
    "A3": "Professional (physician) visit - home", "A4": "Psychiatric",
    "A6": "Psychotherapy", "A7": "Psychiatric - inpatient", "A8": "Psychiatric - outpatient",
    "AD": "Occupational therapy", "AE": "Physical medicine", "AF": "Speech therapy",
    "AG": "Skilled nursing care", "AI": "Substance abuse", "AJ": "Alcoholism",
    "AL": "Vision (optometry)", "AM": "Frames", "BG": "Cardiac rehabilitation",
    "BH": "Pediatric", "BT": "Gynecological", "BU": "Obstetrical",
    "BZ": "Physician visit - office: sick",
    "CE": "Mental health provider - outpatient", "DM": "Durable medical equipment",
    "MH": "Mental health", "PT": "Physical therapy", "UC": "Urgent care",
}  # fmt: skip

# AAA03 reject reason: what the payer could not accept about the request.
REJECT_REASONS = {
    "04": "Authorized quantity exceeded", "15": "Required application data missing",
    "33": "Input errors", "35": "Out of network", "41": "Authorization/access restrictions",
    "42": "Unable to respond at current time", "43": "Invalid/missing provider identification",
    "44": "Invalid/missing provider name", "45": "Invalid/missing provider specialty",
    "46": "Invalid/missing provider phone number", "47": "Invalid/missing provider state",
    "48": "Invalid/missing referring provider identification number",
    "49": "Provider is not primary care physician", "50": "Provider ineligible for inquiries",
    "51": "Provider not on file", "52": "Service dates not within provider plan enrollment",
    "53": "Inquired benefit inconsistent with provider type",
    "54": "Inappropriate product/service ID qualifier", "55": "Inappropriate product/service ID",
    "56": "Inappropriate date", "57": "Invalid/missing date(s) of service",
    "58": "Invalid/missing date of birth", "60": "Date of birth follows date(s) of service",
    "61": "Date of death precedes date(s) of service",
    "62": "Date of service not within allowable inquiry period",
    "63": "Date of service in future", "64": "Invalid/missing patient ID",
    "65": "Invalid/missing patient name", "66": "Invalid/missing patient gender code",
    "67": "Patient not found", "68": "Duplicate patient ID number",
    "69": "Inconsistent with patient's age", "70": "Inconsistent with patient's gender",
    "71": "Patient birth date does not match that for the patient on the database",
    "72": "Invalid/missing subscriber/insured ID", "73": "Invalid/missing subscriber/insured name",
    "74": "Invalid/missing subscriber/insured gender code",
    "75": "Subscriber/insured not found", "76": "Duplicate subscriber/insured ID number",
    "77": "Subscriber found, patient not found",
    "78": "Subscriber/insured not in group/plan identified",
    "79": "Invalid participant identification",
    "80": "No response received - transaction terminated",
    "97": "Invalid or missing provider address", "98": "Experimental service or procedure",
    "AA": "Authorization number not found", "AE": "Requires primary care physician authorization",
    "AF": "Invalid/missing diagnosis code(s)", "AG": "Invalid/missing procedure code(s)",
    "AO": "Additional patient condition information required",
    "CI": "Certification information does not match patient", "E8": "Requires medical review",
    "IA": "Invalid authorization number format", "MA": "Missing authorization number",
    "T4": "Payer name or identifier missing",
}  # fmt: skip

# Plain-English explanations for the reasons the front desk meets most.
REJECT_ADVICE = {
    "15": "The payer needs more information about the patient than was sent.",
    "41": "The payer does not allow this practice to ask about this member.",
    "42": "The payer's system cannot answer right now. Try again later.",
    "43": "The payer does not recognise the practice's NPI.",
    "50": "The payer does not accept eligibility inquiries from this provider.",
    "51": "The provider is not on file with this payer.",
    "57": "The date of service was missing or not accepted.",
    "58": "The date of birth was missing or not accepted.",
    "62": "The date of service is outside the period the payer answers for.",
    "63": "The date of service is in the future.",
    "67": "The payer has no record of this patient.",
    "71": "The date of birth does not match the payer's record.",
    "72": "The member ID is missing or in the wrong format. Check the insurance card.",
    "73": "The subscriber's name does not match. Check the spelling on the insurance card.",
    "75": "The payer has no member with this ID, name and date of birth. Check the insurance card.",
    "76": "The payer has more than one member with this ID.",
    "77": "The subscriber was found, but not this dependent.",
    "79": "The payer did not recognise the sender of the inquiry.",
    "80": "The payer did not answer; the inquiry was ended.",
    "T4": "The payer name or ID was missing or not recognised.",
}

# AAA04 follow-up action.
FOLLOW_UP = {
    "C": "Please correct and resubmit", "N": "Resubmission not allowed",
    "P": "Please resubmit original transaction", "R": "Resubmission allowed",
    "S": "Do not resubmit; inquiry initiated to a third party",
    "W": "Please wait 30 days and resubmit", "X": "Please wait 10 days and resubmit",
    "Y": "Do not resubmit; we will hand off to a third party",
}  # fmt: skip

# REF01 qualifiers in 2100C/D and 2110C/D.
REF_QUALIFIERS = {
    "18": "Plan number", "1L": "Group or policy number", "1W": "Member identification number",
    "3H": "Case number", "49": "Family unit number", "6P": "Group number",
    "CT": "Contract number", "EA": "Medical record identification number",
    "F6": "Health insurance claim (HIC) number", "GH": "Identification card serial number",
    "HJ": "Identity card number", "IG": "Insurance policy number",
    "N6": "Plan network identification number",
    "NQ": "Medicaid recipient identification number", "SY": "Social security number",
    "Y4": "Agency claim number",
}  # fmt: skip

# DTP01 date qualifiers.
DATE_QUALIFIERS = {
    "096": "Discharge", "102": "Issue", "152": "Effective date of change", "291": "Plan",
    "307": "Eligibility", "318": "Added", "340": "COBRA begin", "341": "COBRA end",
    "342": "Premium paid to date begin", "343": "Premium paid to date end",
    "346": "Plan begin", "347": "Plan end", "356": "Eligibility begin", "357": "Eligibility end",
    "382": "Enrollment", "435": "Admission", "442": "Date of death", "458": "Certification",
    "472": "Service", "539": "Policy effective", "540": "Policy expiration",
    "636": "Date of last update", "771": "Status",
}  # fmt: skip


def service_type_name(code: str) -> str:
    return SERVICE_TYPES.get(code, f"Service type {code}")


def reject_reason_text(code: str) -> str:
    return REJECT_REASONS.get(code, f"Reject reason {code}")
