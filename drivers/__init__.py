"""Hardware drivers: scanners and printers. They know nothing about loyalty."""
