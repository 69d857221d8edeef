"""Login throttles: accounts and source addresses delayed or locked after failed logins."""
