"""Class grading: ``course grade``, ``course feedback``, ``course report``, ``course export`` and
``course check``.

One concern per module, in the order a submission meets them:

- :mod:`.grader` — the class run: prepare each submission, run them in parallel, record the results;
- :mod:`.preparation` — a submission's preparation as one ordered list of named steps (``STEPS``);
- :mod:`.nbgrader_api` — every call into nbgrader, by stage: configuration, gradebook, files;
- :mod:`.paths` — every path grading reads or writes, from nbgrader's ``CourseDirectory``;
- :mod:`.folders` — the one way a folder or a result is written: staged, then ``os.replace``;
- :mod:`.cells` — what each cell is (answer, test, instructor code), a test's hidden part, its markers;
- :mod:`.tasks` — what crosses to a job slot and back (task, outcome) and a run's summary, versioned;
- :mod:`.runner` — a job slot: its warm-up, and the task runner that starts the student's processes;
- :mod:`.sandbox` — the bubblewrap sandbox and the session with the student's worker process;
- :mod:`.template` — the warm template per job slot, forking one isolated child per submission;
- :mod:`.cores` — one CPU shared by the grader and its worker while they talk;
- :mod:`.worker` — the process in the sandbox that runs the student's cells;
- :mod:`.protocol` — the requests between grader and worker, and their limits;
- :mod:`.text` — the lengths text is cut to wherever it is kept;
- :mod:`.wire` — plain data across the wall (JSON, never pickle), handles to objects on either side;
- :mod:`.remote` — the student's functions and objects, used from the grader through handles;
- :mod:`.modules` — which of the student's modules a test gets as the grader's own;
- :mod:`.judge` — runs a notebook: student cells in the sandbox, tests in the grader's own process;
- :mod:`.records` — the typed results saved per student (version 3);
- :mod:`.exercises` — each test's title and answers, for tables and reports;
- :mod:`.feedback` — the HTML pages for students, without hidden tests;
- :mod:`.report` — the instructor's class report (HTML, figures, CSV);
- :mod:`.lms` — Canvas and Moodle grade files;
- :mod:`.selfcheck` — ``course check``, the same machinery for one student's own notebook.
"""
