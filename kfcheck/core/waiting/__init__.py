"""The suite's waits, split along their seams (`kfcheck.core.wait` is the one name callers import):

- `clock`: the time a wait reads and sleeps on, injectable so unit tests run waits without time passing;
- `outages`: the API server away or an admission webhook silent, ridden out and reported;
- `causes`: what the wait's pods and Warning events show that will not resolve by itself;
- `description`: what one wait is (`Wait`: the object, its done and failure conditions, its deadline, its pods);
- `stream`: one list, then one watch from its resourceVersion, resumed after a dropped connection;
- `feed`: the wait's streams read side by side; `watching`: what they showed so far;
- `progress`: what a long wait prints; `run`: the waits themselves.
"""
