"""From a verdict to an inbox: handing alerts to notify, delivering each exactly once over
its channels, and mail. A household's settings and rules are `facewatch.household`'s."""
