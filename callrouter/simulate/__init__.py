"""``callrouter simulate``: a day of traffic through the production switchboard in
simulated time.

``scenario`` reads and checks what the day looks like (the router config it runs
against, arrivals, handle times, patience, redials, shifts); ``people`` draws the
callers and their times; ``engine`` plays Asterisk and the people around
``core.switchboard.step`` on a discrete-event clock (no asyncio, no sleeps);
``figures`` turns the records the switchboard wrote into the day's and each
hour's figures, ``replications`` runs the day from several seeds and gives
each figure's mean with a confidence interval, ``render`` writes them
(``page``: as an HTML page), ``compare`` plays the day as separate lines, as
one queue and as configured (``compare_render`` writes them side by side),
``staff`` gives all-round agents by the hour, ``command`` is the CLI's entry.
``staffing`` (``callrouter staffing``) finds the agents each hour needs to
meet a service-level target: Erlang A, then the day simulated and corrected;
``staffing_render`` and ``staffing_command`` write the advice and take the
command line.
"""
