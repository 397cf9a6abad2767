"""Who may log in and how hard it is to guess: the password policy and the login throttle."""
