"""From a verdict to an inbox: handing alerts to notify, delivering each exactly once over
its channels, mail, and a household's alert settings."""
