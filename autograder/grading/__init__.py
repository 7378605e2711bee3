"""Class grading: ``course grade``, ``course feedback`` and ``course check``.

One concern per module, in the order a submission meets them:

- :mod:`.nbgrader_api` — every call into nbgrader (configuration, gradebook, sanitizing, scores);
- :mod:`.cells` — what each cell is (answer, test, instructor code) and a test's hidden part;
- :mod:`.grader` — the class run: prepare each submission, run them in parallel, record the results;
- :mod:`.sandbox` — the bubblewrap sandbox and the session with the student's worker process;
- :mod:`.worker` — the process in the sandbox that runs the student's cells;
- :mod:`.protocol` — the requests between grader and worker, and their limits;
- :mod:`.wire` — plain data across the wall (JSON, never pickle), handles to objects on either side;
- :mod:`.remote` — the student's functions and objects, used from the grader through handles;
- :mod:`.judge` — runs a notebook: student cells in the sandbox, tests in the grader's own process;
- :mod:`.records` — the typed results passed between stages and saved per student;
- :mod:`.feedback` — the HTML pages for students, without hidden tests;
- :mod:`.selfcheck` — ``course check``, the same machinery for one student's own notebook.
"""
