from market.cli import main

raise SystemExit(main())
