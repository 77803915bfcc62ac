"""The front desk's day: the flow board, the waitlist and appointment reminders."""
