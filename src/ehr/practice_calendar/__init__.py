"""The practice events calendar screens: month grid, day list, event page, upcoming events,
the create/edit form, calendar feed subscriptions and ``.ics`` import.

The engine is ``ehr.scheduling`` (events, iCalendar, feed tokens); these screens only read and
write through it, under the signed-in person's access policy.
"""
