"""Statistical process control: Making Data Count XmR charts, rules and icons."""

from joinedup.measures.spc.chart import XmRChart, XmRPoints, XmRSummary, xmr_chart
from joinedup.measures.spc.icons import assurance_icon, assurance_type, variation_icon

__all__ = [
    "XmRChart",
    "XmRPoints",
    "XmRSummary",
    "assurance_icon",
    "assurance_type",
    "variation_icon",
    "xmr_chart",
]
