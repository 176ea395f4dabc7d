"""Django's argon2id hasher at rampart's default cost, so a login costs the same hash on both."""
from django.contrib.auth.hashers import Argon2PasswordHasher


class RampartCostArgon2PasswordHasher(Argon2PasswordHasher):
    """argon2id with rampart's auth.DefaultArgon2MemoryKiB/Time/Threads (m=19456, t=2, p=1).

    Django 3.2's own defaults are m=102400, t=2, p=8; the algorithm name stays "argon2" so the
    stored hashes read as Django's.
    """

    time_cost = 2
    memory_cost = 19456
    parallelism = 1
