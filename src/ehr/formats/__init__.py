"""Interchange formats as pure libraries: bytes in, plain data out, and back.

Nothing here imports Django, the database or the rest of ``ehr`` (only other ``formats``
modules), so each library can be tested against its outside referee on its own.
"""
