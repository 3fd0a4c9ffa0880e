"""Receipts: layouts, code-page-safe rendering to ESC/POS, and the print queue."""
