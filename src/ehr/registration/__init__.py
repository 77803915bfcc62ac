"""Front desk: global patient search, registration, duplicates, merge, coverage and documents.

Public helpers for other screens: ``ehr.registration.banner.banner_context`` (the patient
banner) and ``ehr.registration.search.find_patients`` (ranked, typo-tolerant patient search).
"""
