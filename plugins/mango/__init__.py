"""Mango Office (VPBX API): calls, click-to-call, recordings and routing for Mayak. See README.md."""
