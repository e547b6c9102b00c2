"""Word lists the synthetic text draws on: common first and last names, places, departments...

Names are combined at random from these lists, so no real person's data appears. Each list is
written as "|"-separated items so that it reads as a block.
"""

from __future__ import annotations


def _items(text: str) -> tuple[str, ...]:
    """Split a word list separated by "|" or line breaks (items may contain spaces)."""
    return tuple(
        item.strip() for line in text.splitlines() for item in line.split("|") if item.strip()
    )


FIRST_NAMES: tuple[str, ...] = _items(
    """
    James | Mary | John | Patricia | Robert | Jennifer | Michael | Linda | William | Elizabeth
    David | Barbara | Richard | Susan | Joseph | Jessica | Thomas | Sarah | Charles | Karen
    Daniel | Nancy | Matthew | Lisa | Anthony | Betty | Mark | Margaret | Donald | Sandra
    Steven | Ashley | Paul | Emily | Andrew | Donna | Joshua | Michelle | Kenneth | Carol
    Kevin | Amanda | Brian | Melissa | George | Deborah | Edward | Stephanie | Ronald | Rebecca
    Timothy | Laura | Jason | Helen | Jeffrey | Sharon | Ryan | Cynthia | Jacob | Kathleen
    Gary | Amy | Nicholas | Shirley | Eric | Angela | Jonathan | Anna | Stephen | Ruth | Larry
    Brenda | Justin | Pamela | Scott | Nicole | Frank | Katherine | Peter | Emma | Samuel
    Olivia | Henry | Sophie | Oliver | Isabel | Lucas | Chloe | Hans | Greta | Lukas | Anke
    Pieter | Sanne | Jan | Eva | Carlos | Maria | Jose | Lucia | Juan | Elena | Miguel | Carmen
    Luca | Giulia | Marco | Francesca | Pierre | Claire | Louis | Camille | Ahmed | Fatima
    Omar | Aisha | Ali | Leila | Raj | Priya | Arjun | Anita | Vikram | Deepa | Wei | Li | Jun
    Mei | Hiroshi | Yuki | Kenji | Aiko | Min | Ji-woo | Olga | Ivan | Sven | Ingrid | Lars
    Astrid | Sean | Siobhan | Kwame | Ama | Tunde | Ngozi | Mateo | Valentina | Noah | Mia
    Liam | Zoe
    """
)

LAST_NAMES: tuple[str, ...] = _items(
    """
    Smith | Johnson | Williams | Brown | Jones | Garcia | Miller | Davis | Rodriguez | Martinez
    Hernandez | Lopez | Gonzalez | Wilson | Anderson | Thomas | Taylor | Moore | Jackson
    Martin | Lee | Perez | Thompson | White | Harris | Sanchez | Clark | Ramirez | Lewis
    Robinson | Walker | Young | Allen | King | Wright | Scott | Torres | Nguyen | Hill | Flores
    Green | Adams | Nelson | Baker | Hall | Rivera | Campbell | Mitchell | Carter | Roberts
    Evans | Turner | Phillips | Parker | Collins | Edwards | Stewart | Morris | Murphy | Cook
    Rogers | Morgan | Cooper | Peterson | Reed | Bailey | Bell | Kelly | Howard | Ward | Cox
    Brooks | Wood | Watson | Gray | Hughes | Price | Bennett | Foster | Russell | Griffin
    Hayes | Fisher | Ellis | Graham | Wallace | Hamilton | Mueller | Schmidt | Schneider
    Fischer | Weber | Meyer | Wagner | Becker | Hoffmann | Koch | Janssen | de Vries | van Dijk
    Bakker | Visser | Smit | Meijer | Mulder | Rossi | Russo | Ferrari | Esposito | Bianchi
    Romano | Colombo | Martin | Bernard | Dubois | Moreau | Laurent | Lefebvre | Fernandez
    Gomez | Diaz | Moreno | Alvarez | Romero | Patel | Shah | Singh | Kumar | Sharma | Gupta
    Khan | Ahmed | Hussain | Ali | Chen | Wang | Zhang | Liu | Yang | Huang | Zhao | Wu | Zhou
    Tanaka | Suzuki | Sato | Watanabe | Kim | Park | Choi | Ivanov | Petrov | Novak | Kowalski
    Nowak | Nielsen | Hansen | Larsen | Andersson | Johansson | O'Brien | O'Connor | McCarthy
    Murray | Byrne | Okafor | Mensah | Adeyemi | Silva | Santos | Oliveira | Costa | Pereira
    Horvat | Kovacs | Nagy | Popescu | Yilmaz | Demir | Cohen | Levi
    """
)

PLACES: tuple[str, ...] = _items(
    """
    Riverside | Lakeview | Northgate | Westfield | Hillcrest | Oakwood | Maple Grove
    Kingsbridge | Fairview | Brookside | Greenfield | Elmwood | Harbour | Stonebridge | Ashford
    Bayview | Cedar Park | Clearwater | Eastbrook | Highland | Millbrook | Newbury | Pinecrest
    Redwood | Springvale | Summit | Valley | Willowdale | Northfield | Southport | Castle Hill
    Meadowbank | Rosewood | Silverlake
    """
)

SAINTS: tuple[str, ...] = _items(
    """
    St. Mary's | St. Luke's | St. Joseph's | St. Vincent's | St. Anne's | St. Thomas'
    St. Elizabeth's | St. Francis | St. James's | St. Catherine's | St. Michael's | Mercy
    Good Samaritan | Sacred Heart | Holy Cross | Providence
    """
)

INSTITUTION_TYPES: tuple[str, ...] = _items(
    """
    General Hospital | Hospital | Medical Center | Medical Centre | University Hospital
    Regional Medical Center | Community Hospital | Memorial Hospital | Clinic | Imaging Center
    Diagnostic Imaging | Children's Hospital | Infirmary | Teaching Hospital | Health System
    Radiology Associates | Heart Institute | Cancer Centre | Orthopaedic Clinic
    Women's Hospital
    """
)

DEPARTMENTS: tuple[str, ...] = _items(
    """
    Radiology | Diagnostic Radiology | Interventional Radiology | Nuclear Medicine | Cardiology
    Echocardiography | Emergency Department | Emergency | Orthopaedics | Orthopedics | Neurology
    Neuroradiology | Oncology | Radiation Oncology | Obstetrics | Gynaecology | Paediatrics
    Pediatrics | Urology | Gastroenterology | Vascular Lab | Echo Lab | Cath Lab
    Breast Imaging | Women's Imaging | ICU | Intensive Care | Outpatients | Fracture Clinic
    Chest Clinic | Dental | ENT | Ophthalmology | Rheumatology | Sports Medicine | Maternity
    Trauma Unit
    """
)

ROOMS: tuple[str, ...] = _items(
    """
    CT | CT1 | CT 2 | MR | MRI 1 | MR 3T | US | US Room 2 | XR | X-Ray 4 | DR Room 1 | Fluoro
    PET-CT | Mammo | Resus | Ward 7 | Room 12
    """
)

MONTHS: tuple[str, ...] = (
    "Jan",
    "Feb",
    "Mar",
    "Apr",
    "May",
    "Jun",
    "Jul",
    "Aug",
    "Sep",
    "Oct",
    "Nov",
    "Dec",
)

BODY_PARTS: tuple[str, ...] = _items(
    """
    knee | hip | ankle | wrist | shoulder | elbow | hand | foot | chest | abdo | pelvis | spine
    neck | skull | femur | tibia | rib | thumb | L4/5 | C-spine | lung | liver | kidney | heart
    """
)

MODALITIES: tuple[str, ...] = ("CT", "MR", "US", "CR", "DX", "XA", "NM", "MG", "RF", "PT")

STUDY_DESCRIPTIONS: tuple[str, ...] = _items(
    """
    CT CHEST W/O | CT HEAD | CT ABD/PELVIS W | MRI BRAIN | MR L-SPINE | US ABDOMEN | CXR PA/LAT
    XR KNEE 2V | ECHO TTE | CTA CHEST | MRI KNEE LT | US RENAL | NM BONE SCAN | MAMMO SCREEN
    XR HAND RT | CT SINUS
    """
)
