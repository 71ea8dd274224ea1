"""Charting around the treatment: clinical photos, signed consent forms, saved plans and repeat
last, the appointment book and reminders (issue 9)."""
