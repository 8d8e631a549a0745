"""The paper's data-driven figure panels, one module per figure."""
