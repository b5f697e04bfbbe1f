"""What every domain stands on: audit, events, files, notifications, saved views, input parsing, paging."""
