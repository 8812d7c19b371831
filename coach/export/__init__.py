"""Files for the candidate: scorecards, study plans (Markdown, iCalendar) and the progress chart."""
