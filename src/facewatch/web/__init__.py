"""What the functions share as HTTP apps: transport, the per-process services, the functions'
handlers, and the pages (feedback, report)."""
