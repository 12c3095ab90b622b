"""A household's own settings and rules (`settings.json`: recipients, channels, quiet hours,
who never alerts, whose arrival is announced): read by recognize, which decides whether a
visit alerts, as much as by alerts, which delivers it, so they belong to neither."""
