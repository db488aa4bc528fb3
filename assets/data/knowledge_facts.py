"""World-knowledge facts for the `knowledge` preserve set, written for this project.

Every fact is (question, short answer, category), asked in one phrasing only, so a fact never sits on
both sides of a train / held-out split. Answers are scored with sclora.answers.answer_matches (the
normalised answer must appear in the model's reply). Questions the bundled model answered wrong are
listed in knowledge_check.json (written by measure.py --curate) and left out of the set.

The category names the kind of answer: multiple-choice distractors for a question are drawn from the
answers of other facts of the same category (generate.py, knowledge_choices.jsonl). ALSO_RIGHT lists,
per question, answers that are right too (a city of the same name in another country, a second
language spoken there) and SYNONYMS answers that mean the same; neither is ever offered as a distractor.
"""

from __future__ import annotations


def _pairs(text: str, sep: str = ":") -> list[tuple[str, str]]:
    """'key: value' per line (or per ';'), blank lines ignored."""
    out = []
    for line in text.replace(";", "\n").splitlines():
        if line.strip():
            key, value = line.split(sep, 1)
            out.append((key.strip(), value.strip()))
    return out


def _grouped(text: str) -> list[tuple[str, str]]:
    """'answer: key, key, ...' per line -> (key, answer) for each key."""
    return [(key.strip(), answer) for answer, keys in _pairs(text) for key in keys.split(",") if key.strip()]


def _words(text: str) -> list[tuple[str, str]]:
    """'word answer' pairs separated by commas (an answer may have several words after the first)."""
    out = []
    for item in text.split(","):
        if item.strip():
            word, answer = item.split(None, 1)
            out.append((word, answer.strip()))
    return out


# --------------------------------------------------------------------------- countries

# "What is the capital of X?" (left out: countries with two capitals, a disputed or a moving capital,
# and city states whose capital has the country's own name)
CAPITALS = _pairs("""
France: Paris; Germany: Berlin; Italy: Rome; Spain: Madrid; Portugal: Lisbon; Ireland: Dublin
the United Kingdom: London; England: London; Scotland: Edinburgh; Wales: Cardiff; Northern Ireland: Belfast
Austria: Vienna; Poland: Warsaw; Hungary: Budapest; Norway: Oslo; Sweden: Stockholm; Finland: Helsinki
Denmark: Copenhagen; the Netherlands: Amsterdam; Belgium: Brussels; the Czech Republic: Prague
Switzerland: Bern; Romania: Bucharest; Bulgaria: Sofia; Serbia: Belgrade; Ukraine: Kyiv; Greece: Athens
Russia: Moscow; Iceland: Reykjavik; Croatia: Zagreb; Slovakia: Bratislava; Slovenia: Ljubljana
Estonia: Tallinn; Latvia: Riga; Lithuania: Vilnius; Belarus: Minsk; Moldova: Chisinau; Albania: Tirana
North Macedonia: Skopje; Montenegro: Podgorica; Bosnia and Herzegovina: Sarajevo; Cyprus: Nicosia
Malta: Valletta; Liechtenstein: Vaduz; the country of Georgia: Tbilisi; Armenia: Yerevan; Azerbaijan: Baku
Japan: Tokyo; China: Beijing; South Korea: Seoul; North Korea: Pyongyang; Mongolia: Ulaanbaatar
India: New Delhi; Pakistan: Islamabad; Bangladesh: Dhaka; Nepal: Kathmandu; Bhutan: Thimphu
Afghanistan: Kabul; Iran: Tehran; Iraq: Baghdad; Syria: Damascus; Lebanon: Beirut; Jordan: Amman
Saudi Arabia: Riyadh; Oman: Muscat; the United Arab Emirates: Abu Dhabi; Qatar: Doha; Bahrain: Manama
Kuwait: Kuwait City; Turkey: Ankara; Thailand: Bangkok; Vietnam: Hanoi; Cambodia: Phnom Penh
Laos: Vientiane; Malaysia: Kuala Lumpur; the Philippines: Manila; Uzbekistan: Tashkent
Kyrgyzstan: Bishkek; Tajikistan: Dushanbe; Turkmenistan: Ashgabat; the Maldives: Male
Brunei: Bandar Seri Begawan; East Timor: Dili
Egypt: Cairo; Kenya: Nairobi; Nigeria: Abuja; Ethiopia: Addis Ababa; Morocco: Rabat; Ghana: Accra
Senegal: Dakar; Tunisia: Tunis; Algeria: Algiers; Libya: Tripoli; South Sudan: Juba; Uganda: Kampala
Tanzania: Dodoma; Rwanda: Kigali; Zimbabwe: Harare; Zambia: Lusaka; Mozambique: Maputo; Angola: Luanda
Namibia: Windhoek; Botswana: Gaborone; Madagascar: Antananarivo; Mali: Bamako; Niger: Niamey
Chad: N'Djamena; Cameroon: Yaounde; the Democratic Republic of the Congo: Kinshasa
the Republic of the Congo: Brazzaville; Gabon: Libreville; Liberia: Monrovia; Sierra Leone: Freetown
Guinea: Conakry; Burkina Faso: Ouagadougou; Mauritania: Nouakchott; Somalia: Mogadishu; Eritrea: Asmara
Malawi: Lilongwe; Lesotho: Maseru; Togo: Lome; the Gambia: Banjul; Cape Verde: Praia; Mauritius: Port Louis
the Central African Republic: Bangui
the United States: Washington; Canada: Ottawa; Mexico: Mexico City; Cuba: Havana; Jamaica: Kingston
Haiti: Port-au-Prince; the Dominican Republic: Santo Domingo; Panama: Panama City; Costa Rica: San Jose
Nicaragua: Managua; Honduras: Tegucigalpa; El Salvador: San Salvador; Guatemala: Guatemala City
Belize: Belmopan; the Bahamas: Nassau; Barbados: Bridgetown; Trinidad and Tobago: Port of Spain
Colombia: Bogota; Venezuela: Caracas; Ecuador: Quito; Peru: Lima; Brazil: Brasilia; Argentina: Buenos Aires
Chile: Santiago; Uruguay: Montevideo; Paraguay: Asuncion; Guyana: Georgetown; Suriname: Paramaribo
Australia: Canberra; New Zealand: Wellington; Fiji: Suva; Papua New Guinea: Port Moresby; Samoa: Apia
Tonga: Nuku'alofa; Vanuatu: Port Vila; the Solomon Islands: Honiara; Saint Lucia: Castries; Dominica: Roseau
the Seychelles: Victoria; the Comoros: Moroni
""")

# "On which continent is X?" (left out: countries across two continents or counted either way)
CONTINENTS = _grouped("""
Europe: France, Germany, Italy, Spain, Portugal, Ireland, the United Kingdom, Austria, Poland, Hungary, Norway
Europe: Sweden, Finland, Denmark, the Netherlands, Belgium, the Czech Republic, Switzerland, Romania, Bulgaria
Europe: Serbia, Ukraine, Greece, Iceland, Croatia, Slovakia, Slovenia, Estonia, Latvia, Lithuania, Belarus
Europe: Moldova, Albania, North Macedonia, Montenegro, Bosnia and Herzegovina, Malta, Luxembourg, Liechtenstein
Europe: Monaco, San Marino, Andorra, Scotland, Wales, England
Asia: Japan, China, India, South Korea, North Korea, Mongolia, Pakistan, Bangladesh, Nepal, Bhutan, Afghanistan
Asia: Iran, Iraq, Syria, Lebanon, Jordan, Saudi Arabia, Oman, the United Arab Emirates, Qatar, Bahrain, Kuwait
Asia: Yemen, Israel, Thailand, Vietnam, Cambodia, Laos, Myanmar, Malaysia, Singapore, the Philippines
Asia: Sri Lanka, the Maldives, Uzbekistan, Kyrgyzstan, Tajikistan, Turkmenistan, Brunei, Indonesia
Africa: Egypt, Kenya, Nigeria, Ethiopia, Morocco, Ghana, Senegal, Tunisia, Algeria, Libya, Sudan, South Sudan
Africa: Uganda, Tanzania, Rwanda, Burundi, Zimbabwe, Zambia, Mozambique, Angola, Namibia, Botswana
Africa: Madagascar, Mali, Niger, Chad, Cameroon, the Democratic Republic of the Congo, Gabon
Africa: Liberia, Sierra Leone, Guinea, Burkina Faso, Mauritania, Somalia, Eritrea, Malawi, Lesotho, Togo
Africa: Benin, the Ivory Coast, the Gambia, Djibouti, the Central African Republic, Mauritius
North America: Canada, Mexico, the United States, Cuba, Jamaica, Haiti, the Dominican Republic, Panama
North America: Costa Rica, Nicaragua, Honduras, El Salvador, Guatemala, Belize, the Bahamas, Barbados
South America: Brazil, Argentina, Peru, Chile, Colombia, Venezuela, Ecuador, Uruguay, Paraguay, Bolivia
South America: Guyana, Suriname
Oceania: New Zealand, Fiji, Samoa, Tonga
""")

# "What language is mainly spoken in X?" (left out: countries with several main languages)
LANGUAGES = _grouped("""
French: France, Monaco
German: Germany, Austria, Liechtenstein
Italian: Italy, San Marino
Spanish: Spain, Mexico, Argentina, Colombia, Chile, Peru, Cuba, Venezuela, Uruguay, Ecuador, Bolivia
Spanish: Costa Rica, Panama, Honduras, Nicaragua, El Salvador, Guatemala, the Dominican Republic
Portuguese: Portugal, Brazil, Angola
English: England, Australia, New Zealand, the United States, Ireland, Jamaica, the United Kingdom, Scotland
Japanese: Japan; Chinese: China; Korean: South Korea, North Korea; Russian: Russia; Greek: Greece
Polish: Poland; Swedish: Sweden; Norwegian: Norway; Danish: Denmark; Finnish: Finland; Icelandic: Iceland
Dutch: the Netherlands; Turkish: Turkey; Hungarian: Hungary; Vietnamese: Vietnam; Thai: Thailand
Arabic: Egypt, Saudi Arabia, Iraq, Syria, Jordan, Morocco, Algeria, Tunisia, Libya, Oman, Yemen, Sudan
Persian: Iran; Hebrew: Israel; Ukrainian: Ukraine; Slovak: Slovakia
Slovenian: Slovenia; Romanian: Romania; Bulgarian: Bulgaria; Serbian: Serbia; Croatian: Croatia
Albanian: Albania; Macedonian: North Macedonia; Estonian: Estonia; Latvian: Latvia; Lithuanian: Lithuania
Indonesian: Indonesia; Malay: Malaysia; Khmer: Cambodia; Lao: Laos; Burmese: Myanmar; Bengali: Bangladesh
Nepali: Nepal; Mongolian: Mongolia; Armenian: Armenia; Azerbaijani: Azerbaijan; Uzbek: Uzbekistan
Somali: Somalia; Swahili: Tanzania; Maltese: Malta
Catalan: Andorra; Dzongkha: Bhutan; Georgian: the country of Georgia; Tajik: Tajikistan; Turkmen: Turkmenistan
Arabic: Kuwait, Bahrain, Mauritania, Lebanon; Malay: Brunei; Greek: Cyprus; English: Wales, Northern Ireland
Samoan: Samoa; Tongan: Tonga; Malagasy: Madagascar; Kinyarwanda: Rwanda
""")
LANGUAGES_ALSO = {  # other languages widely spoken there (never offered as distractors)
    "Morocco": ["French"], "Algeria": ["French"], "Tunisia": ["French"], "Israel": ["Arabic"],
    "Ukraine": ["Russian"], "Estonia": ["Russian"], "Latvia": ["Russian"], "Lithuania": ["Russian", "Polish"],
    "North Macedonia": ["Albanian"], "Malaysia": ["English", "Chinese", "Indonesian"], "Malta": ["English"],
    "Tanzania": ["English"], "Sudan": ["English"], "Iraq": ["Kurdish"], "Uzbekistan": ["Russian"],
    "Ireland": ["Irish"], "Peru": ["Quechua"], "Bolivia": ["Quechua"], "Finland": ["Swedish"],
    "Somalia": ["Arabic"], "Angola": ["Umbundu"], "Monaco": ["Italian"],
    "Mongolia": ["Russian"], "Azerbaijan": ["Russian"], "Armenia": ["Russian"],
    "Serbia": ["Croatian"], "Croatia": ["Serbian"], "Indonesia": ["Malay"],
    "Slovakia": ["Czech"], "Lebanon": ["French"], "Cyprus": ["Turkish"], "Wales": ["Welsh"],
    "Madagascar": ["French"], "Rwanda": ["English", "French"], "Samoa": ["English"], "Tonga": ["English"],
    "Brunei": ["English"], "Mauritania": ["French"],
}

# "What is the currency of X?" (left out: countries that changed or are about to change currency)
CURRENCIES = _grouped("""
yen: Japan; yuan: China; won: South Korea, North Korea
rupee: India, Pakistan, Nepal, Sri Lanka
pound: the United Kingdom, Egypt
dollar: the United States, Canada, Australia, New Zealand, Singapore, Jamaica
peso: Mexico, Argentina, Chile, Colombia, the Philippines, Uruguay, Cuba, the Dominican Republic
euro: France, Germany, Italy, Spain, Portugal, Ireland, Austria, Belgium, the Netherlands, Finland, Greece
euro: Estonia, Latvia, Lithuania, Slovakia, Slovenia, Croatia, Malta, Luxembourg, Cyprus
ruble: Russia, Belarus; real: Brazil; rand: South Africa; baht: Thailand; lira: Turkey; zloty: Poland
forint: Hungary; shekel: Israel; riyal: Saudi Arabia, Qatar; dirham: the United Arab Emirates, Morocco
dinar: Kuwait, Jordan, Iraq, Algeria, Tunisia, Serbia; naira: Nigeria; shilling: Kenya, Uganda, Tanzania
rupiah: Indonesia; ringgit: Malaysia; dong: Vietnam; hryvnia: Ukraine; leu: Romania; taka: Bangladesh
cedi: Ghana; birr: Ethiopia; sol: Peru; quetzal: Guatemala; rial: Iran, Oman; franc: Switzerland
krona: Sweden; krone: Norway, Denmark; koruna: the Czech Republic
""")

# "In which country is the city of X?"
CITIES = _grouped("""
Spain: Barcelona, Seville, Valencia, Bilbao, Malaga, Zaragoza, Pamplona, San Sebastian, Cadiz, Alicante
Spain: Marbella, Santiago de Compostela, Granada, Cordoba, Murcia, Santander, Valladolid, Toledo
Spain: Girona, Tarragona, Segovia, Burgos, Oviedo, Almeria
Germany: Munich, Hamburg, Frankfurt, Cologne, Stuttgart, Dresden, Leipzig, Dusseldorf, Nuremberg, Bremen
Germany: Heidelberg, Bonn, Dortmund, Hanover, Mainz, Freiburg, Aachen, Augsburg, Kiel, Rostock, Potsdam
Germany: Wurzburg, Regensburg, Wiesbaden, Karlsruhe, Mannheim, Essen, Duisburg, Bochum, Munster, Ulm, Trier
Germany: Lubeck, Erfurt, Weimar, Magdeburg, Kassel
France: Marseille, Lyon, Nice, Bordeaux, Toulouse, Strasbourg, Lille, Nantes, Cannes, Montpellier
France: Avignon, Grenoble, Rennes, Reims, Dijon, Le Havre, Calais, Toulon, Lourdes, Chamonix, Metz
France: Clermont-Ferrand, Limoges, Perpignan, Caen, Rouen, Ajaccio
Italy: Milan, Venice, Naples, Florence, Turin, Bologna, Genoa, Pisa, Verona, Palermo, Siena, Bari
Italy: Trieste, Parma, Modena, Padua, Ravenna, Perugia, Como, Bergamo, Brescia, Lecce, Salerno
Italy: Cagliari, Messina, Assisi, Rimini, Ferrara, Lucca, Taormina, Sorrento
England: Manchester, Liverpool, Birmingham, Leeds, Bristol, Sheffield, Brighton, Nottingham, Newcastle
England: Oxford, Cambridge, Leicester, Coventry, Southampton, Portsmouth, Plymouth
England: York, Bath, Durham, Canterbury, Exeter, Norwich, Chester, Lancaster, Blackpool, Bournemouth
Scotland: Glasgow, Aberdeen, Dundee, Inverness, Stirling
Wales: Swansea
Ireland: Cork, Galway, Limerick
Portugal: Porto, Coimbra, Faro, Braga, Evora, Aveiro, Sintra
the Netherlands: Rotterdam, Utrecht, The Hague, Eindhoven, Groningen, Maastricht, Delft, Haarlem, Leiden
the Netherlands: Arnhem, Nijmegen, Tilburg
Belgium: Antwerp, Bruges, Ghent, Liege, Leuven
Switzerland: Zurich, Geneva, Basel, Lausanne, Lucerne, Lugano, Zermatt, Interlaken
Austria: Hallstatt
Austria: Salzburg, Innsbruck, Graz, Linz
Poland: Krakow, Gdansk, Wroclaw, Poznan, Lodz, Katowice, Lublin, Szczecin
the Czech Republic: Brno, Ostrava; Hungary: Debrecen, Szeged, Pecs; Slovakia: Kosice; Slovenia: Maribor
Romania: Timisoara, Constanta, Brasov, Cluj-Napoca; Bulgaria: Plovdiv, Varna; Serbia: Novi Sad, Nis
Bosnia and Herzegovina: Mostar; Lithuania: Kaunas, Klaipeda; Estonia: Tartu; Belarus: Gomel
Sweden: Gothenburg, Malmo, Uppsala, Kiruna
Norway: Bergen, Trondheim, Stavanger, Tromso
Denmark: Aarhus, Odense, Aalborg
Finland: Tampere, Turku, Oulu
Iceland: Akureyri
Greece: Thessaloniki, Heraklion, Patras
Russia: St. Petersburg, Novosibirsk, Kazan, Vladivostok, Yekaterinburg, Sochi, Murmansk, Volgograd, Omsk
Russia: Irkutsk, Samara, Nizhny Novgorod, Krasnoyarsk, Kaliningrad
Ukraine: Odessa, Kharkiv, Lviv, Dnipro
Turkey: Istanbul, Izmir, Antalya, Bursa, Konya, Trabzon, Adana, Gaziantep, Kayseri, Bodrum
Croatia: Split, Dubrovnik, Zadar, Rijeka
the United States: Chicago, Los Angeles, Boston, Miami, San Francisco, Houston, Seattle, Dallas, New Orleans
the United States: Las Vegas, Philadelphia, Detroit, Atlanta, Denver, Phoenix, San Diego, Nashville, Honolulu
the United States: Orlando, Pittsburgh, Baltimore, Minneapolis, Anchorage, New York, Memphis, Salt Lake City
the United States: Kansas City, Milwaukee, Sacramento, Indianapolis, Cincinnati, Tampa, San Antonio
the United States: Albuquerque, Tucson, Omaha, Oklahoma City, Louisville, Cleveland, Buffalo, Jacksonville
the United States: Fort Worth, El Paso, Tulsa, Reno, Savannah, Charlotte
Canada: Toronto, Vancouver, Montreal, Calgary, Quebec City, Edmonton, Winnipeg, Halifax, Saskatoon, Banff
Mexico: Guadalajara, Cancun, Monterrey, Tijuana, Acapulco, Puebla, Oaxaca, Veracruz, Chihuahua, Merida
Mexico: Queretaro, Morelia, Mazatlan, Puerto Vallarta, Toluca, Hermosillo
Brazil: Rio de Janeiro, Sao Paulo, Salvador, Recife, Fortaleza, Manaus, Belo Horizonte, Curitiba
Brazil: Porto Alegre, Belem, Florianopolis, Campinas, Santos, Ouro Preto, Maceio
Argentina: Rosario, Mendoza, Ushuaia, La Plata, Mar del Plata, Bariloche, Salta
Chile: Valparaiso, Antofagasta, Punta Arenas
Bolivia: Cochabamba
Paraguay: Ciudad del Este
Jamaica: Montego Bay
Colombia: Medellin, Cartagena, Cali, Barranquilla
Peru: Cusco, Arequipa, Iquitos
Venezuela: Maracaibo
Ecuador: Guayaquil
Australia: Sydney, Melbourne, Perth, Brisbane, Adelaide, Darwin, Hobart, Cairns, Townsville, Alice Springs
Australia: Geelong
New Zealand: Auckland, Christchurch, Queenstown, Rotorua, Dunedin
Japan: Osaka, Kyoto, Hiroshima, Nagasaki, Sapporo, Yokohama, Nagoya, Kobe, Fukuoka, Nara, Sendai
Japan: Hakodate, Kanazawa, Okayama, Kagoshima, Kumamoto, Nikko
China: Shanghai, Guangzhou, Shenzhen, Xi'an, Chengdu, Wuhan, Nanjing, Harbin, Hangzhou, Chongqing
China: Tianjin, Qingdao, Suzhou, Guilin, Lhasa, Kunming, Dalian, Xiamen, Shenyang, Changsha
China: Zhengzhou, Urumqi
South Korea: Busan, Incheon, Daegu, Gwangju, Suwon, Ulsan
India: Mumbai, Kolkata, Chennai, Bangalore, Hyderabad, Jaipur, Agra, Varanasi, Ahmedabad, Pune, Amritsar
India: Lucknow, Udaipur, Jodhpur, Mysore, Darjeeling, Surat, Kanpur, Nagpur, Kochi, Bhopal, Indore, Patna
India: Madurai, Coimbatore, Visakhapatnam, Shimla, Rishikesh
Pakistan: Karachi, Lahore, Peshawar, Rawalpindi, Multan, Faisalabad, Quetta
Bangladesh: Chittagong, Khulna, Sylhet
Sri Lanka: Kandy
Nepal: Pokhara
Vietnam: Ho Chi Minh City, Da Nang, Hue, Haiphong, Nha Trang, Hoi An
Thailand: Chiang Mai, Phuket, Pattaya, Ayutthaya
Malaysia: Ipoh, Johor Bahru, Kota Kinabalu
Myanmar: Yangon, Mandalay
Laos: Luang Prabang
Cambodia: Siem Reap, Battambang
Indonesia: Surabaya, Bandung, Yogyakarta, Medan, Semarang, Makassar, Denpasar
the Philippines: Cebu, Davao, Quezon City
the United Arab Emirates: Dubai, Sharjah
Oman: Salalah
Saudi Arabia: Jeddah, Mecca, Medina, Dammam
Iran: Isfahan, Shiraz, Tabriz, Mashhad, Qom
Jordan: Aqaba
Iraq: Basra, Mosul, Erbil, Karbala, Najaf, Kirkuk
Syria: Aleppo, Homs
Lebanon: Sidon
Afghanistan: Kandahar, Herat
Uzbekistan: Samarkand, Bukhara
Kazakhstan: Almaty
Israel: Tel Aviv, Haifa, Eilat
South Africa: Johannesburg, Cape Town, Durban, Bloemfontein, Soweto, Stellenbosch
Egypt: Alexandria, Luxor, Aswan, Port Said, Sharm el-Sheikh, Hurghada
Morocco: Casablanca, Marrakesh, Fez, Tangier, Agadir, Essaouira, Meknes
Tunisia: Sousse
Nigeria: Lagos, Kano, Ibadan, Port Harcourt, Enugu, Kaduna
Ethiopia: Harar
Kenya: Mombasa, Kisumu, Nakuru
Tanzania: Dar es Salaam, Arusha, Mwanza
Uganda: Entebbe
Cameroon: Douala
Mali: Timbuktu
Ghana: Kumasi, Tamale
Libya: Benghazi
Algeria: Oran, Constantine
Zambia: Livingstone, Ndola
Mozambique: Beira
Namibia: Walvis Bay
Ethiopia: Gondar, Bahir Dar
Sudan: Omdurman
Zimbabwe: Bulawayo
""")
CITY_NAMESAKES = {  # other countries with a well-known city of the same name (never offered as distractors)
    "Barcelona": ["Venezuela"], "Valencia": ["Venezuela"], "Guadalajara": ["Spain"], "Cartagena": ["Spain"],
    "Birmingham": ["the United States"], "Manchester": ["the United States"], "Venice": ["the United States"],
    "Naples": ["the United States"], "Florence": ["the United States"], "Alexandria": ["the United States"],
    "Melbourne": ["the United States"], "St. Petersburg": ["the United States"], "Odessa": ["the United States"],
    "Hanover": ["the United States"], "Geneva": ["the United States"], "Medina": ["the United States"],
    "Newcastle": ["Australia"], "Perth": ["Scotland"], "Sydney": ["Canada"], "Bergen": ["the Netherlands"],
    "Lagos": ["Portugal"], "Hyderabad": ["Pakistan"], "Santiago de Compostela": ["Chile"],
    "Salvador": ["El Salvador"], "Darwin": ["the United Kingdom"],
    "Granada": ["Nicaragua"], "Cordoba": ["Argentina"], "Toledo": ["the United States"],
    "Merida": ["Spain", "Venezuela"], "Oxford": ["the United States"], "Cambridge": ["the United States"],
    "Portsmouth": ["the United States"], "Plymouth": ["the United States"], "Memphis": ["Egypt"],
    "Halifax": ["England"], "Dunedin": ["the United States"], "Kochi": ["Japan"],
    "Valladolid": ["Mexico"], "Santander": ["Colombia"], "Leicester": ["the United States"],
    "Coventry": ["the United States"],
    "Southampton": ["the United States"], "Stirling": ["Australia"], "Inverness": ["the United States"],
    "Aberdeen": ["the United States"], "Potsdam": ["the United States"], "Freiburg": ["Switzerland"],
    "Parma": ["the United States"], "Verona": ["the United States"], "Genoa": ["the United States"],
    "Ravenna": ["the United States"], "Milan": ["the United States"], "Bristol": ["the United States"],
    "Brighton": ["the United States"], "Christchurch": ["England"], "Queenstown": ["Australia", "South Africa"],
    "Boston": ["England"], "San Antonio": ["Chile"], "Vancouver": ["the United States"], "Belem": ["Portugal"],
    "Rosario": ["Uruguay"], "York": ["the United States"], "Bath": ["the United States"],
    "Durham": ["the United States"], "Canterbury": ["New Zealand"], "Exeter": ["the United States"],
    "Norwich": ["the United States"], "Chester": ["the United States"], "Lancaster": ["the United States"],
    "Cleveland": ["England"], "Valparaiso": ["the United States"], "Toronto": ["the United States"],
}

# "What is the capital of the US state of X?" and of Canadian provinces and Australian states
STATE_CAPITALS = _pairs("""
the US state of Alabama: Montgomery; the US state of Alaska: Juneau; the US state of Arizona: Phoenix
the US state of Arkansas: Little Rock; the US state of California: Sacramento; the US state of Colorado: Denver
the US state of Connecticut: Hartford; the US state of Delaware: Dover; the US state of Florida: Tallahassee
the US state of Georgia: Atlanta; the US state of Hawaii: Honolulu; the US state of Idaho: Boise
the US state of Illinois: Springfield; the US state of Indiana: Indianapolis; the US state of Iowa: Des Moines
the US state of Kansas: Topeka; the US state of Kentucky: Frankfort; the US state of Louisiana: Baton Rouge
the US state of Maine: Augusta; the US state of Maryland: Annapolis; the US state of Massachusetts: Boston
the US state of Michigan: Lansing; the US state of Minnesota: Saint Paul; the US state of Mississippi: Jackson
the US state of Missouri: Jefferson City; the US state of Montana: Helena; the US state of Nebraska: Lincoln
the US state of Nevada: Carson City; the US state of New Hampshire: Concord; the US state of New Jersey: Trenton
the US state of New Mexico: Santa Fe; the US state of New York: Albany; the US state of North Carolina: Raleigh
the US state of North Dakota: Bismarck; the US state of Ohio: Columbus; the US state of Oklahoma: Oklahoma City
the US state of Oregon: Salem; the US state of Pennsylvania: Harrisburg; the US state of Rhode Island: Providence
the US state of South Carolina: Columbia; the US state of South Dakota: Pierre; the US state of Tennessee: Nashville
the US state of Texas: Austin; the US state of Utah: Salt Lake City; the US state of Vermont: Montpelier
the US state of Virginia: Richmond; the US state of Washington: Olympia; the US state of West Virginia: Charleston
the US state of Wisconsin: Madison; the US state of Wyoming: Cheyenne
the Canadian province of Ontario: Toronto; the Canadian province of Quebec: Quebec City
the Canadian province of British Columbia: Victoria; the Canadian province of Alberta: Edmonton
the Canadian province of Manitoba: Winnipeg; the Canadian province of Saskatchewan: Regina
the Canadian province of Nova Scotia: Halifax; the Canadian province of New Brunswick: Fredericton
the Canadian province of Prince Edward Island: Charlottetown
the Australian state of New South Wales: Sydney; the Australian state of Victoria: Melbourne
the Australian state of Queensland: Brisbane; the Australian state of Western Australia: Perth
the Australian state of South Australia: Adelaide; the Australian state of Tasmania: Hobart
""")

# --------------------------------------------------------------------------- science

# "What is the chemical symbol for X?" (left out: symbols that are common English words, such as I, S, Be)
ELEMENTS = _pairs("""
hydrogen: H; helium: He; lithium: Li; carbon: C; nitrogen: N; oxygen: O; fluorine: F; neon: Ne
sodium: Na; magnesium: Mg; aluminum: Al; silicon: Si; phosphorus: P; chlorine: Cl; argon: Ar
potassium: K; calcium: Ca; titanium: Ti; chromium: Cr; manganese: Mn; iron: Fe; cobalt: Co; nickel: Ni
copper: Cu; zinc: Zn; selenium: Se; bromine: Br; krypton: Kr; silver: Ag; tin: Sn; xenon: Xe
platinum: Pt; gold: Au; mercury: Hg; lead: Pb; radon: Rn; radium: Ra; uranium: U; plutonium: Pu
boron: B; tungsten: W; barium: Ba; strontium: Sr; cesium: Cs; gallium: Ga; germanium: Ge; bismuth: Bi
polonium: Po; molybdenum: Mo; palladium: Pd; iridium: Ir; osmium: Os; cadmium: Cd; vanadium: V
scandium: Sc; rubidium: Rb; antimony: Sb; thorium: Th; zirconium: Zr; francium: Fr; tellurium: Te
hafnium: Hf; tantalum: Ta; rhodium: Rh; ruthenium: Ru; thallium: Tl; neptunium: Np; curium: Cm
californium: Cf; lanthanum: La; cerium: Ce; neodymium: Nd; europium: Eu; yttrium: Y; niobium: Nb
technetium: Tc; einsteinium: Es; mendelevium: Md; samarium: Sm; gadolinium: Gd; erbium: Er
""")

# --------------------------------------------------------------------------- words

# "What is the opposite of X?" (only words with one clear opposite)
OPPOSITES = _words("""
hot cold, cold hot, up down, down up, day night, night day, wet dry, dry wet, in out, out in, yes no,
no yes, black white, white black, top bottom, bottom top, boy girl, girl boy, man woman, woman man,
king queen, queen king, husband wife, wife husband, brother sister, sister brother, father mother,
mother father, son daughter, daughter son, uncle aunt, aunt uncle, nephew niece, niece nephew,
prince princess, princess prince, grandmother grandfather, grandfather grandmother, north south,
south north, east west, west east, push pull, pull push, win lose, buy sell, sell buy, early late,
first last, full empty, empty full, thick thin, tall short, long short, heavy light, rich poor,
poor rich, strong weak, weak strong, clean dirty, dirty clean, happy sad, love hate, hate love,
friend enemy, enemy friend, question answer, answer question, inside outside, outside inside,
before after, after before, above below, below above, over under, under over, asleep awake,
awake asleep, alive dead, dead alive, noisy quiet, cheap expensive, expensive cheap, true false,
false true, always never, never always, everything nothing, everybody nobody, maximum minimum,
minimum maximum, plus minus, minus plus, positive negative, negative positive, odd even, shallow deep,
deep shallow, wide narrow, hello goodbye, goodbye hello, include exclude, exclude include,
increase decrease, decrease increase, import export, export import, inhale exhale, exhale inhale,
interior exterior, exterior interior, internal external, external internal, majority minority,
minority majority, visible invisible, invisible visible, possible impossible, impossible possible,
legal illegal, illegal legal, patient impatient, honest dishonest, agree disagree, appear disappear,
lock unlock, known unknown, fair unfair, able unable, certain uncertain, comfortable uncomfortable,
complete incomplete, usual unusual, responsible irresponsible, regular irregular, mature immature,
perfect imperfect, logical illogical, direct indirect, dependent independent, formal informal,
sunrise sunset, sunset sunrise, dawn dusk, dusk dawn, float sink, send receive, victory defeat,
war peace, peace war, success failure, ascend descend, descend ascend, arrival departure,
departure arrival, entrance exit, exit entrance, floor ceiling, ceiling floor, heaven hell, hell heaven,
hero villain, villain hero, male female, female male, adult child, inner outer, outer inner,
upper lower, lower upper, forward backward, backward forward, upstairs downstairs, downstairs upstairs,
uphill downhill, downhill uphill, indoor outdoor, outdoor indoor, input output, output input,
superior inferior, inferior superior, senior junior, junior senior, plural singular, singular plural,
vertical horizontal, horizontal vertical, predator prey, prey predator, mortal immortal,
smooth rough, rough smooth, tight loose, loose tight, safe dangerous, dangerous safe, guilty innocent,
innocent guilty, temporary permanent, permanent temporary, major minor, minor major, private public,
public private, rural urban, urban rural, borrow lend, lend borrow, remember forget, forget remember,
open closed, big small, fast slow, new old, young old, good bad, on off, off on, high low, low high,
near far, far near, laugh cry, cry laugh, sit stand, come go, ancient modern, add subtract, multiply divide,
lucky unlucky, healthy unhealthy, friendly unfriendly,
necessary unnecessary, popular unpopular, important unimportant, available unavailable, accurate inaccurate,
capable incapable, convenient inconvenient, efficient inefficient, sensitive insensitive, moral immoral,
proper improper, practical impractical, rational irrational, relevant irrelevant, legible illegible,
literate illiterate, advantage disadvantage, approve disapprove, obey disobey, connect disconnect,
loyal disloyal, pack unpack, load unload, zip unzip, wrap unwrap, tie untie, fold unfold, cover uncover,
do undo, dress undress, plug unplug, employed unemployed, fortunate unfortunate,
pleasant unpleasant, aware unaware, acceptable unacceptable, attractive unattractive, expected unexpected,
fit unfit, grateful ungrateful, likely unlikely, limited unlimited, official unofficial, paid unpaid,
predictable unpredictable, reliable unreliable, selfish unselfish, stable unstable, successful unsuccessful,
wanted unwanted, welcome unwelcome, wise unwise, competent incompetent, consistent inconsistent,
decent indecent, definite indefinite, edible inedible, flexible inflexible, frequent infrequent,
justice injustice, secure insecure, sincere insincere, sufficient insufficient, tolerant intolerant,
valid invalid, mature immature, modest immodest, movable immovable, personal impersonal, precise imprecise,
probable improbable, pure impure, legitimate illegitimate, resistible irresistible, obedient disobedient,
organized disorganized, satisfied dissatisfied, comfort discomfort, order disorder, agreeable disagreeable,
behave misbehave
""")

PLURALS = _words("""
mouse mice, child children, tooth teeth, foot feet, man men, woman women, goose geese, person people,
ox oxen, louse lice, nucleus nuclei, crisis crises, analysis analyses, thesis theses, axis axes,
phenomenon phenomena, criterion criteria, knife knives, wife wives, life lives, leaf leaves, wolf wolves,
half halves, calf calves, loaf loaves, shelf shelves, thief thieves, elf elves, potato potatoes,
tomato tomatoes, hero heroes, echo echoes, box boxes, city cities, baby babies, party parties,
story stories, lady ladies, bus buses, church churches, fox foxes, dish dishes, glass glasses, die dice,
bacterium bacteria, alumnus alumni, stimulus stimuli, larva larvae, grandchild grandchildren,
policeman policemen, fireman firemen, gentleman gentlemen, country countries, family families,
watch watches, dress dresses, kiss kisses, bench benches, berry berries, fly flies, spy spies, sky skies,
puppy puppies, hobby hobbies, body bodies, army armies, copy copies, wish wishes, brush brushes,
match matches, tax taxes, quiz quizzes, photo photos, piano pianos, zoo zoos, video videos, vertex vertices,
basis bases, diagnosis diagnoses, hypothesis hypotheses, oasis oases, parenthesis parentheses, genus genera,
torpedo torpedoes, veto vetoes, domino dominoes, lily lilies, cherry cherries, fairy fairies, pony ponies,
daisy daisies, lorry lorries, candy candies, strawberry strawberries, library libraries,
factory factories, battery batteries, butterfly butterflies, dictionary dictionaries, enemy enemies,
memory memories, century centuries, university universities, duty duties, jury juries, ruby rubies,
trophy trophies, diary diaries, beach beaches, bush bushes, witness witnesses, address addresses,
class classes, boss bosses, lunch lunches, peach peaches, sandwich sandwiches, torch torches,
switch switches, crash crashes, flash flashes, lens lenses, gas gases, hoax hoaxes, cousin cousins,
workman workmen, fisherman fishermen, businessman businessmen, postman postmen, snowman snowmen,
activity activities, ability abilities, agency agencies, ally allies, apology apologies, blueberry blueberries,
bakery bakeries, boundary boundaries, canary canaries, category categories, celebrity celebrities,
colony colonies, community communities, company companies, county counties, delivery deliveries,
discovery discoveries, economy economies, emergency emergencies, facility facilities, gallery galleries,
galaxy galaxies, injury injuries, melody melodies, mystery mysteries, nanny nannies, opportunity opportunities,
penalty penalties, pharmacy pharmacies, policy policies, poppy poppies, pastry pastries, quality qualities,
quantity quantities, raspberry raspberries, reply replies, salary salaries, secretary secretaries,
society societies, strategy strategies, supply supplies, theory theories, tragedy tragedies, treaty treaties,
variety varieties, victory victories, worry worries, branch branches, coach coaches, compass compasses,
inch inches, loss losses, ostrich ostriches, patch patches, princess princesses, process processes,
punch punches, ranch ranches, sketch sketches, speech speeches, stitch stitches, virus viruses,
waltz waltzes, wrench wrenches, circus circuses, bonus bonuses, campus campuses, chorus choruses,
genius geniuses, self selves, chairman chairmen, salesman salesmen, sportsman sportsmen,
craftsman craftsmen, Frenchman Frenchmen, Englishman Englishmen, milkman milkmen, horseman horsemen,
caveman cavemen, nobleman noblemen, policewoman policewomen, businesswoman businesswomen
""")

PAST_TENSES = _words("""
go went, eat ate, see saw, run ran, swim swam, sing sang, drink drank, write wrote, take took, give gave,
come came, buy bought, bring brought, think thought, catch caught, teach taught, fight fought,
seek sought, sell sold, tell told, make made, say said, pay paid, find found, stand stood,
understand understood, sit sat, forget forgot, speak spoke, break broke, choose chose, freeze froze,
steal stole, wake woke, drive drove, ride rode, rise rose, fly flew, grow grew, know knew, throw threw,
blow blew, draw drew, fall fell, feel felt, keep kept, sleep slept, sweep swept, leave left, meet met,
lead led, feed fed, hold held, lose lost, send sent, spend spent, build built, lend lent, bend bent,
begin began, ring rang, sink sank, wear wore, tear tore, swear swore, hide hid,
bite bit, shake shook, forgive forgave, become became, do did, have had, hear heard, dig dug,
stick stuck, strike struck, weave wove, win won, spin spun, cling clung, sting stung, swing swung,
slide slid, bind bound, creep crept, weep wept, flee fled, mean meant, deal dealt, shoot shot,
arise arose, get got, lay laid, sling slung, grind ground, overtake overtook, undo undid,
withdraw withdrew, mistake mistook, rewrite rewrote, foresee foresaw, stop stopped, try tried, carry carried,
plan planned, cry cried, study studied, hurry hurried, worry worried, drop dropped, hug hugged, clap clapped,
marry married, copy copied, shop shopped, jog jogged, beg begged, rob robbed, grab grabbed, admit admitted,
bleed bled, breed bred, stride strode, wring wrung, string strung, overcome overcame,
withstand withstood, uphold upheld, mislead misled, oversleep overslept
""")

PARTICIPLES = _words("""
eat eaten, write written, go gone, see seen, do done, take taken, give given, break broken,
speak spoken, choose chosen, freeze frozen, steal stolen, drive driven, ride ridden, rise risen,
fly flown, grow grown, know known, throw thrown, blow blown, draw drawn, fall fallen, forget forgotten,
begin begun, ring rung, sing sung, swim swum, drink drunk, wear worn, tear torn, hide hidden,
bite bitten, shake shaken, forgive forgiven, be been
""")

# "What is the comparative form of X?" / "What is the superlative form of X?"
COMPARISONS = [
    (word, comparative, superlative)
    for word, comparative, superlative in (item.split() for item in """
big bigger biggest, small smaller smallest, tall taller tallest, short shorter shortest, fast faster fastest,
slow slower slowest, young younger youngest, long longer longest, happy happier happiest, easy easier easiest,
heavy heavier heaviest, hot hotter hottest, cold colder coldest, strong stronger strongest, cheap cheaper cheapest,
rich richer richest, high higher highest, thin thinner thinnest, wet wetter wettest, sad sadder saddest,
funny funnier funniest, busy busier busiest, pretty prettier prettiest, large larger largest, wide wider widest,
deep deeper deepest, loud louder loudest, nice nicer nicest, safe safer safest, bright brighter brightest,
dark darker darkest, clean cleaner cleanest, early earlier earliest, fat fatter fattest
""".replace("\n", " ").split(",") if item.strip())
]

# "What is the female form of X?" (people and animals)
FEMALE_FORMS = _words("""
actor actress, waiter waitress, lion lioness, duke duchess, emperor empress, god goddess, steward stewardess,
hero heroine, bull cow, rooster hen, stallion mare, ram ewe, fox vixen, boar sow, gander goose, monk nun,
tiger tigress, headmaster headmistress
""")

# "What is the home of a X called?"
ANIMAL_HOMES = _pairs("""
bird: nest; spider: web; dog: kennel; horse: stable; lion: den; rabbit: burrow; bee: hive
""")

# --------------------------------------------------------------------------- animals

BABY_ANIMALS = _pairs("""
dog: puppy; cat: kitten; cow: calf; sheep: lamb; horse: foal; kangaroo: joey; koala: joey; goat: kid
pig: piglet; duck: duckling; goose: gosling; swan: cygnet; deer: fawn; bear: cub; lion: cub; tiger: cub
leopard: cub; chicken: chick; owl: owlet; eagle: eaglet; elephant: calf; whale: calf; giraffe: calf
camel: calf; donkey: foal; zebra: foal; toad: tadpole
""")

# "What kind of animal is a X?"
ANIMAL_CLASSES = _grouped("""
mammal: whale, dolphin, bat, bear, horse, elephant, kangaroo, tiger, monkey, platypus, seal, mouse, camel
mammal: rabbit, giraffe, gorilla, squirrel, hedgehog, wolf, fox, deer, cow, pig, goat, otter, walrus
mammal: hippopotamus, rhinoceros, cheetah, zebra, koala, panda, sloth, moose, lion, beaver, donkey
bird: hummingbird, crow, duck, goose, chicken, turkey, woodpecker, kiwi, vulture, pelican, seagull, stork
bird: heron, falcon
reptile: cobra, Komodo dragon, rattlesnake
fish: sardine, herring, carp, piranha, catfish, swordfish, clownfish
insect: fly, moth, cricket, termite, flea, locust
amphibian: axolotl
arachnid: tick
bird: penguin, ostrich, eagle, owl, parrot, sparrow, swan, flamingo, pigeon, robin, peacock, emu
reptile: snake, crocodile, turtle, lizard, alligator, tortoise, iguana, chameleon, gecko
amphibian: frog, salamander, toad, newt
fish: shark, salmon, tuna, trout, goldfish, cod, seahorse, eel
insect: ant, bee, butterfly, beetle, grasshopper, mosquito, ladybug, dragonfly, wasp, cockroach
arachnid: spider, scorpion
""")

ANIMAL_GROUPS = _pairs("""
lions: pride; wolves: pack; birds: flock; cows: herd; elephants: herd; fish: school; geese: gaggle
crows: murder; ants: colony; whales: pod; puppies: litter; bats: colony
""")
ANIMAL_GROUPS_ALSO = {"fish": ["shoal"], "puppies": ["pack"], "whales": ["school"], "geese": ["flock",
                      "skein"], "crows": ["flock"],
                      "bats": ["flock"], "birds": ["colony", "gaggle", "murder"], "cows": ["drove"]}

ANIMAL_SOUNDS = _pairs("""
moo: cow; woof: dog; meow: cat; baa: sheep; oink: pig; quack: duck; neigh: horse; hoot: owl; ribbit: frog
cock-a-doodle-doo: rooster; hee-haw: donkey; gobble: turkey; squeak: mouse
""")

# --------------------------------------------------------------------------- everything else
# (question, answer, category)

GENERAL = [
    # planets and space
    ("Which planet is known as the Red Planet?", "Mars", "planet"),
    ("What is the largest planet in our solar system?", "Jupiter", "planet"),
    ("Which planet is closest to the Sun?", "Mercury", "planet"),
    ("Which planet is famous for its rings?", "Saturn", "planet"),
    ("What is the name of the planet we live on?", "Earth", "planet"),
    ("What is the hottest planet in our solar system?", "Venus", "planet"),
    ("Which planet is the farthest from the Sun?", "Neptune", "planet"),
    ("Which planet is the third planet from the Sun?", "Earth", "planet"),
    ("Which planet is the second planet from the Sun?", "Venus", "planet"),
    ("Which planet is the seventh planet from the Sun?", "Uranus", "planet"),
    ("Which planet has the Great Red Spot?", "Jupiter", "planet"),
    ("Which planet rotates on its side?", "Uranus", "planet"),
    ("Which planet is the smallest in our solar system?", "Mercury", "planet"),
    ("Which planet is often called Earth's twin?", "Venus", "planet"),
    ("Which former planet was reclassified as a dwarf planet in 2006?", "Pluto", "planet"),
    ("What star is at the center of our solar system?", "Sun", "space"),
    ("What is the natural satellite of the Earth called?", "Moon", "space"),
    ("What is the name of the galaxy we live in?", "Milky Way", "space"),
    ("What was the name of the first artificial satellite launched in 1957?", "Sputnik", "space"),
    ("What is the name of the space telescope launched in 1990?", "Hubble", "space"),
    ("What is a shooting star really called?", "meteor", "space"),
    ("What do we call a ball of ice and dust with a long tail that orbits the Sun?", "comet", "space"),
    # water, matter, chemistry, physics
    ("What is the boiling point of water in degrees Celsius?", "100", "number"),
    ("What is the freezing point of water in degrees Celsius?", "0", "number"),
    ("What gas do plants absorb from the air for photosynthesis?", "carbon dioxide", "science"),
    ("What gas do humans need to breathe to live?", "oxygen", "science"),
    ("What is the main gas in the air we breathe?", "nitrogen", "science"),
    ("What gas do plants release during photosynthesis?", "oxygen", "science"),
    ("What gas do humans breathe out?", "carbon dioxide", "science"),
    ("Which light gas is used to fill party balloons so that they float?", "helium", "science"),
    ("What is the chemical formula of water?", "H2O", "formula"),
    ("What is the chemical formula of carbon dioxide?", "CO2", "formula"),
    ("What is the chemical formula of table salt?", "NaCl", "formula"),
    ("What is the chemical formula of methane?", "CH4", "formula"),
    ("What is the chemical formula of ozone?", "O3", "formula"),
    ("What is frozen water called?", "ice", "science"),
    ("What force pulls objects toward the Earth?", "gravity", "science"),
    ("What is the center of an atom called?", "nucleus", "science"),
    ("What particle has a negative charge?", "electron", "particle"),
    ("What particle in the nucleus has a positive charge?", "proton", "particle"),
    ("What particle in the nucleus has no charge?", "neutron", "particle"),
    ("What particle of light carries electromagnetic energy?", "photon", "particle"),
    ("What is the hardest natural substance?", "diamond", "science"),
    ("What liquid metal is used in old thermometers?", "mercury", "science"),
    ("What is the process by which plants make food from sunlight?", "photosynthesis", "process"),
    ("What is the process of liquid water turning into vapor called?", "evaporation", "process"),
    ("What is the process of water vapor turning into liquid called?", "condensation", "process"),
    ("What is the process of a solid turning into a liquid called?", "melting", "process"),
    ("What is the process of a liquid turning into a solid called?", "freezing", "process"),
    ("What is the process of a solid turning straight into a gas called?", "sublimation", "process"),
    ("What process do caterpillars go through to become butterflies?", "metamorphosis", "process"),
    ("What is the state of matter of ice?", "solid", "state of matter"),
    ("What is the state of matter of steam?", "gas", "state of matter"),
    ("What is the state of matter of water at room temperature?", "liquid", "state of matter"),
    ("What state of matter is found in lightning and in the Sun?", "plasma", "state of matter"),
    ("What is the SI unit of electrical resistance?", "ohm", "unit"),
    ("What is the SI unit of force?", "newton", "unit"),
    ("What is the SI unit of energy?", "joule", "unit"),
    ("What is the SI unit of power?", "watt", "unit"),
    ("What is the SI unit of electric current?", "ampere", "unit"),
    ("What is the SI unit of frequency?", "hertz", "unit"),
    ("What is the SI unit of electric potential?", "volt", "unit"),
    ("What is the SI unit of pressure?", "pascal", "unit"),
    ("What is the SI unit of mass?", "kilogram", "unit"),
    ("What is the SI unit of time?", "second", "unit"),
    ("What is the SI unit of length?", "meter", "unit"),
    ("What is the SI unit of temperature?", "kelvin", "unit"),
    ("What is the SI unit of electric charge?", "coulomb", "unit"),
    ("What is the study of living things called?", "biology", "field of study"),
    ("What is the study of rocks and the Earth called?", "geology", "field of study"),
    ("What is the study of stars and planets called?", "astronomy", "field of study"),
    ("What is the study of the weather called?", "meteorology", "field of study"),
    ("What is the study of animals called?", "zoology", "field of study"),
    ("What is the study of plants called?", "botany", "field of study"),
    ("What is the study of the past called?", "history", "field of study"),
    ("What is the study of the mind and behaviour called?", "psychology", "field of study"),
    ("What is the study of insects called?", "entomology", "field of study"),
    ("What is the study of fossils called?", "paleontology", "field of study"),
    ("What is the study of maps and the Earth's surface called?", "geography", "field of study"),
    ("What is the study of matter and its reactions called?", "chemistry", "field of study"),
    # living things
    ("What do you call an animal that eats only plants?", "herbivore", "diet"),
    ("What do you call an animal that eats only meat?", "carnivore", "diet"),
    ("What do you call an animal that eats both plants and meat?", "omnivore", "diet"),
    ("What do you call an animal that feeds on dead animals?", "scavenger", "diet"),
    ("What do you call an animal that eats mainly insects?", "insectivore", "diet"),
    ("What part of the cell is known as its powerhouse?", "mitochondria", "science"),
    ("What molecule carries genetic information in living things?", "DNA", "science"),
    ("What part of a plant takes up water from the soil?", "roots", "science"),
    ("What part of a plant makes seeds and often has colourful petals?", "flower", "science"),
    ("What part of a plant does photosynthesis mostly take place in?", "leaves", "science"),
    ("What green pigment do plants use to capture sunlight?", "chlorophyll", "science"),
    ("What do we call animals that are active at night?", "nocturnal", "science"),
    ("What do we call animals with a backbone?", "vertebrates", "science"),
    ("What do we call the long sleep of some animals through the winter?", "hibernation", "process"),
    ("What do we call the yearly journey of birds to warmer places?", "migration", "process"),
    # the human body
    ("What organ pumps blood through the human body?", "heart", "body"),
    ("Which organ do humans use to breathe?", "lungs", "body"),
    ("What organ in the human body is used for thinking?", "brain", "body"),
    ("What is the largest organ of the human body?", "skin", "body"),
    ("What is the largest bone in the human body?", "femur", "body"),
    ("What is the largest internal organ of the human body?", "liver", "body"),
    ("Which organs filter the blood and make urine?", "kidneys", "body"),
    ("Which organ stores urine before it leaves the body?", "bladder", "body"),
    ("Which bony structure protects the brain?", "skull", "body"),
    ("What is the coloured part of the eye called?", "iris", "body"),
    ("What is the black opening in the centre of the eye called?", "pupil", "body"),
    ("What joint is in the middle of the leg?", "knee", "body"),
    ("What joint connects the hand to the arm?", "wrist", "body"),
    ("What joint is in the middle of the arm?", "elbow", "body"),
    ("What joint connects the foot to the leg?", "ankle", "body"),
    ("What body part do humans use to smell?", "nose", "body"),
    ("What body part do humans use to taste?", "tongue", "body"),
    ("What body part do humans use to hear?", "ears", "body"),
    ("What is the hard white outer layer of a tooth called?", "enamel", "body"),
    ("Which muscle under the lungs helps us breathe?", "diaphragm", "body"),
    ("What blood vessels carry blood away from the heart?", "arteries", "body"),
    ("What blood vessels carry blood back to the heart?", "veins", "body"),
    ("What is the long bundle of nerves inside the backbone called?", "spinal cord", "body"),
    ("What is the bone at the front of the chest that the ribs join called?", "sternum", "body"),
    ("What is the common name for the patella bone?", "kneecap", "body"),
    ("What vitamin does the skin make in sunlight?", "vitamin D", "science"),
    ("Which vitamin is found in oranges and prevents scurvy?", "vitamin C", "science"),
    ("Which vitamin helps blood to clot?", "vitamin K", "science"),
    # counting
    ("How many planets are in our solar system?", "8", "number"),
    ("How many bones are in the adult human body?", "206", "number"),
    ("How many legs does a spider have?", "8", "number"),
    ("How many legs does an insect have?", "6", "number"),
    ("How many legs does a dog have?", "4", "number"),
    ("How many days are in a week?", "7", "number"),
    ("How many months are in a year?", "12", "number"),
    ("How many days are in a leap year?", "366", "number"),
    ("How many hours are in a day?", "24", "number"),
    ("How many minutes are in an hour?", "60", "number"),
    ("How many seconds are in a minute?", "60", "number"),
    ("How many continents are there on Earth?", "7", "number"),
    ("How many sides does a triangle have?", "3", "number"),
    ("How many sides does a hexagon have?", "6", "number"),
    ("How many sides does a square have?", "4", "number"),
    ("How many sides does an octagon have?", "8", "number"),
    ("How many degrees are in a right angle?", "90", "number"),
    ("How many degrees are in a full circle?", "360", "number"),
    ("How many degrees do the angles of a triangle add up to?", "180", "number"),
    ("How many centimeters are in a meter?", "100", "number"),
    ("How many grams are in a kilogram?", "1000", "number"),
    ("How many meters are in a kilometer?", "1000", "number"),
    ("How many millimeters are in a centimeter?", "10", "number"),
    ("How many milliliters are in a liter?", "1000", "number"),
    ("How many teeth does an adult human usually have?", "32", "number"),
    ("How many baby teeth does a child usually have?", "20", "number"),
    ("How many chambers does the human heart have?", "4", "number"),
    ("How many chromosomes does a normal human body cell have?", "46", "number"),
    ("How many players are on a soccer team on the field?", "11", "number"),
    ("How many players does a basketball team have on the court?", "5", "number"),
    ("How many players does a volleyball team have on the court?", "6", "number"),
    ("How many players does a baseball team have on the field?", "9", "number"),
    ("How many players does a rugby union team have on the field?", "15", "number"),
    ("How many strings does a standard guitar have?", "6", "number"),
    ("How many strings does a violin have?", "4", "number"),
    ("How many letters are in the English alphabet?", "26", "number"),
    ("How many years are in a century?", "100", "number"),
    ("How many years are in a decade?", "10", "number"),
    ("How many years are in a millennium?", "1000", "number"),
    ("How many zeros are in one million?", "6", "number"),
    ("How many zeros are in one thousand?", "3", "number"),
    ("How many days are in a normal year that is not a leap year?", "365", "number"),
    ("How many days does February have in a leap year?", "29", "number"),
    ("How many days are in September?", "30", "number"),
    ("How many weeks are in a year?", "52", "number"),
    ("How many hours are in a week?", "168", "number"),
    ("How many seconds are in an hour?", "3600", "number"),
    ("How many days are in a fortnight?", "14", "number"),
    ("How many items are in a dozen?", "12", "number"),
    ("How many items are in a baker's dozen?", "13", "number"),
    ("How many squares are on a chessboard?", "64", "number"),
    ("How many pieces does each player start with in chess?", "16", "number"),
    ("How many cards are in a standard deck without jokers?", "52", "number"),
    ("How many suits are in a standard deck of cards?", "4", "number"),
    ("How many edges does a cube have?", "12", "number"),
    ("How many corners does a cube have?", "8", "number"),
    ("How many colours are in a rainbow?", "7", "number"),
    ("How many states are in the United States?", "50", "number"),
    ("How many rings are on the Olympic flag?", "5", "number"),
    ("How many hearts does an octopus have?", "3", "number"),
    ("How many arms does an octopus have?", "8", "number"),
    ("How many humps does a Bactrian camel have?", "2", "number"),
    ("How many wheels does a tricycle have?", "3", "number"),
    ("How many bits are in a byte?", "8", "number"),
    ("How many cents are in a dollar?", "100", "number"),
    ("How many inches are in a foot?", "12", "number"),
    ("How many feet are in a yard?", "3", "number"),
    ("How many ounces are in a pound?", "16", "number"),
    ("How many moons does Mars have?", "2", "number"),
    ("How many sides does a stop sign have?", "8", "number"),
    ("How many minutes are in a day?", "1440", "number"),
    ("What is the smallest prime number?", "2", "number"),
    ("What is the square root of 81?", "9", "number"),
    ("What is the square root of 144?", "12", "number"),
    ("What is the square root of 64?", "8", "number"),
    ("What is 7 times 8?", "56", "number"),
    ("What is 12 times 12?", "144", "number"),
    ("What is half of 100?", "50", "number"),
    ("What is the atomic number of carbon?", "6", "number"),
    ("What is the atomic number of oxygen?", "8", "number"),
    # Roman numerals
    ("What is the Roman numeral for 10?", "X", "roman numeral"),
    ("What is the Roman numeral for 5?", "V", "roman numeral"),
    ("What is the Roman numeral for 50?", "L", "roman numeral"),
    ("What is the Roman numeral for 100?", "C", "roman numeral"),
    ("What is the Roman numeral for 500?", "D", "roman numeral"),
    ("What is the Roman numeral for 1000?", "M", "roman numeral"),
    ("What is the Roman numeral for 4?", "IV", "roman numeral"),
    ("What is the Roman numeral for 9?", "IX", "roman numeral"),
    ("What is the Roman numeral for 20?", "XX", "roman numeral"),
    ("What is the Roman numeral for 40?", "XL", "roman numeral"),
    ("What is the Roman numeral for 90?", "XC", "roman numeral"),
    # shapes and maths words
    ("What is a polygon with five sides called?", "pentagon", "shape"),
    ("What is a polygon with ten sides called?", "decagon", "shape"),
    ("What is a polygon with seven sides called?", "heptagon", "shape"),
    ("What is a 3D shape with six square faces called?", "cube", "shape"),
    ("What is a 3D shape with a circular base that narrows to a point called?", "cone", "shape"),
    ("What is the shape of a tin can called?", "cylinder", "shape"),
    ("What is the shape of the Earth?", "sphere", "shape"),
    ("What is a triangle with three equal sides called?", "equilateral", "maths word"),
    ("What is an angle smaller than 90 degrees called?", "acute", "maths word"),
    ("What is an angle between 90 and 180 degrees called?", "obtuse", "maths word"),
    ("What is the distance around a circle called?", "circumference", "maths word"),
    ("What is the distance from the center of a circle to its edge called?", "radius", "maths word"),
    ("What is a straight line through the center of a circle from edge to edge called?", "diameter", "maths word"),
    ("What is the result of a multiplication called?", "product", "maths word"),
    ("What is the result of an addition called?", "sum", "maths word"),
    ("What is the result of a division called?", "quotient", "maths word"),
    ("What is the top number of a fraction called?", "numerator", "maths word"),
    ("What is the bottom number of a fraction called?", "denominator", "maths word"),
    # colours
    ("What is the color of a ripe banana?", "yellow", "colour"),
    ("What color is grass?", "green", "colour"),
    ("What color is the sky on a clear day?", "blue", "colour"),
    ("What color is snow?", "white", "colour"),
    ("What color do you get when you mix blue and yellow?", "green", "colour"),
    ("What color do you get when you mix red and white?", "pink", "colour"),
    ("What color do you get when you mix red and yellow?", "orange", "colour"),
    ("What color do you get when you mix blue and red?", "purple", "colour"),
    ("What color do you get when you mix black and white?", "gray", "colour"),
    ("What color is a ripe tomato?", "red", "colour"),
    ("What color is coal?", "black", "colour"),
    ("What color is milk?", "white", "colour"),
    ("What color is a carrot?", "orange", "colour"),
    ("What color is an emerald?", "green", "colour"),
    ("What color is a ruby?", "red", "colour"),
    ("What color is a lemon?", "yellow", "colour"),
    ("What color is a polar bear's fur?", "white", "colour"),
    ("What color is a crow?", "black", "colour"),
    ("What color is a stop sign?", "red", "colour"),
    ("What color of traffic light means go?", "green", "colour"),
    ("What color is a school bus in the United States?", "yellow", "colour"),
    ("What color is a flamingo?", "pink", "colour"),
    ("What color is a pumpkin?", "orange", "colour"),
    ("What color is human blood?", "red", "colour"),
    # animals
    ("What is the largest mammal on Earth?", "blue whale", "animal"),
    ("What is the fastest land animal?", "cheetah", "animal"),
    ("What is the tallest animal in the world?", "giraffe", "animal"),
    ("Which animal is known as the king of the jungle?", "lion", "animal"),
    ("What animal is known for carrying its house on its back?", "snail", "animal"),
    ("Which bird is a symbol of peace?", "dove", "animal"),
    ("What is the largest land animal?", "elephant", "animal"),
    ("What is the largest bird in the world?", "ostrich", "animal"),
    ("What is the largest fish in the world?", "whale shark", "animal"),
    ("Which mammal can truly fly?", "bat", "animal"),
    ("Which animal has a long trunk?", "elephant", "animal"),
    ("Which African animal has black and white stripes and looks like a horse?", "zebra", "animal"),
    ("Which black and white bear eats bamboo?", "panda", "animal"),
    ("Which Australian animal eats eucalyptus leaves and sleeps most of the day?", "koala", "animal"),
    ("Which animal with a hump is called the ship of the desert?", "camel", "animal"),
    ("Which bird is known for copying human speech?", "parrot", "animal"),
    ("Which animal changes the colour of its skin and has eyes that move separately?", "chameleon", "animal"),
    ("Which egg-laying mammal has a bill like a duck?", "platypus", "animal"),
    ("Which flightless bird lives in Antarctica?", "penguin", "animal"),
    ("What is the fastest bird in a dive?", "peregrine falcon", "animal"),
    ("Which animal builds dams in rivers?", "beaver", "animal"),
    ("Which animal is the largest of the big cats?", "tiger", "animal"),
    ("What do bees make?", "honey", "food"),
    ("What do silkworms make?", "silk", "food"),
    ("What soft material do we get from sheep?", "wool", "food"),
    ("What is a young frog called?", "tadpole", "baby animal"),
    # calendar
    ("What day comes after Monday?", "Tuesday", "weekday"),
    ("What day comes after Tuesday?", "Wednesday", "weekday"),
    ("What day comes after Wednesday?", "Thursday", "weekday"),
    ("What day comes after Thursday?", "Friday", "weekday"),
    ("What day comes after Friday?", "Saturday", "weekday"),
    ("What day comes after Saturday?", "Sunday", "weekday"),
    ("What day comes after Sunday?", "Monday", "weekday"),
    ("What day comes before Sunday?", "Saturday", "weekday"),
    ("What day comes before Friday?", "Thursday", "weekday"),
    ("What day comes before Wednesday?", "Tuesday", "weekday"),
    ("What month comes after January?", "February", "month"),
    ("What month comes after February?", "March", "month"),
    ("What month comes after March?", "April", "month"),
    ("What month comes after April?", "May", "month"),
    ("What month comes after May?", "June", "month"),
    ("What month comes after June?", "July", "month"),
    ("What month comes after July?", "August", "month"),
    ("What month comes after August?", "September", "month"),
    ("What month comes after September?", "October", "month"),
    ("What month comes after October?", "November", "month"),
    ("What month comes after November?", "December", "month"),
    ("What month comes after December?", "January", "month"),
    ("What is the first month of the year?", "January", "month"),
    ("What is the last month of the year?", "December", "month"),
    ("In which month is Christmas celebrated?", "December", "month"),
    ("In which month is Halloween celebrated?", "October", "month"),
    ("Which month has the fewest days?", "February", "month"),
    ("Which season comes after winter?", "spring", "season"),
    ("Which season comes after summer?", "autumn", "season"),
    ("Which season comes after spring?", "summer", "season"),
    ("Which season comes after autumn?", "winter", "season"),
    # years
    ("In which year did World War II end?", "1945", "year"),
    ("In which year did World War II begin?", "1939", "year"),
    ("In which year did World War I begin?", "1914", "year"),
    ("In which year did World War I end?", "1918", "year"),
    ("In which year did Columbus first reach the Americas?", "1492", "year"),
    ("In which year did humans first land on the Moon?", "1969", "year"),
    ("In which year did the Berlin Wall fall?", "1989", "year"),
    ("In which year did the Titanic sink?", "1912", "year"),
    ("In which year was the United States Declaration of Independence signed?", "1776", "year"),
    ("In which year did the French Revolution begin?", "1789", "year"),
    ("In which year was the Battle of Hastings?", "1066", "year"),
    ("In which year was the Magna Carta sealed?", "1215", "year"),
    ("In which year did the Soviet Union break up?", "1991", "year"),
    ("In which year did the September 11 attacks take place?", "2001", "year"),
    # people
    ("Who was the first person to walk on the Moon?", "Neil Armstrong", "historical figure"),
    ("Who was the first president of the United States?", "George Washington", "historical figure"),
    ("Who was the first person to travel into space?", "Yuri Gagarin", "historical figure"),
    ("Who was the first woman to travel into space?", "Valentina Tereshkova", "historical figure"),
    ("Who led the first expedition to reach the South Pole?", "Roald Amundsen", "historical figure"),
    ("Which explorer sailed across the Atlantic to the Americas in 1492?", "Columbus", "historical figure"),
    ("Who was the British prime minister for most of World War II?", "Churchill", "historical figure"),
    ("Who led India's non-violent struggle for independence?", "Gandhi", "historical figure"),
    ("Who gave the 'I Have a Dream' speech in 1963?", "Martin Luther King", "historical figure"),
    ("Who was the president of the United States during the American Civil War?", "Lincoln", "historical figure"),
    ("Which French emperor was defeated at the Battle of Waterloo?", "Napoleon", "historical figure"),
    ("Who was the first woman to be prime minister of the United Kingdom?", "Thatcher", "historical figure"),
    ("Which Macedonian king built an empire from Greece to India?", "Alexander the Great", "historical figure"),
    ("Which Egyptian boy king's tomb was found in 1922?", "Tutankhamun", "historical figure"),
    ("Who was the first emperor of Rome?", "Augustus", "historical figure"),
    ("Which South African leader was freed from prison in 1990 and became president?", "Nelson Mandela",
     "historical figure"),
    ("Which queen of Egypt was the last ruler of the Ptolemaic dynasty?", "Cleopatra", "historical figure"),
    ("Who founded the company Amazon?", "Jeff Bezos", "historical figure"),
    ("Who developed the theory of relativity?", "Einstein", "scientist"),
    ("Who discovered penicillin?", "Alexander Fleming", "scientist"),
    ("Who proposed the theory of evolution by natural selection?", "Darwin", "scientist"),
    ("Who invented the telephone?", "Alexander Graham Bell", "scientist"),
    ("Who formulated the laws of motion and universal gravitation?", "Isaac Newton", "scientist"),
    ("Who invented the World Wide Web?", "Tim Berners-Lee", "scientist"),
    ("Who invented dynamite and founded the Nobel Prizes?", "Alfred Nobel", "scientist"),
    ("Who invented the printing press with movable type in Europe?", "Gutenberg", "scientist"),
    ("Who made the first powered airplane flight in 1903?", "Wright brothers", "scientist"),
    ("Who developed the first polio vaccine?", "Jonas Salk", "scientist"),
    ("Who developed the first smallpox vaccine?", "Edward Jenner", "scientist"),
    ("Who was the first woman to win a Nobel Prize?", "Marie Curie", "scientist"),
    ("Who proposed that the Earth goes around the Sun in 1543?", "Copernicus", "scientist"),
    ("Who created the periodic table of the elements?", "Mendeleev", "scientist"),
    ("Who invented pasteurization?", "Louis Pasteur", "scientist"),
    ("Who invented the phonograph?", "Thomas Edison", "scientist"),
    ("Who invented the electric battery?", "Volta", "scientist"),
    ("Who discovered the four largest moons of Jupiter?", "Galileo", "scientist"),
    ("Who described the three laws of planetary motion?", "Kepler", "scientist"),
    ("Who designed the mechanical computer called the Analytical Engine?", "Charles Babbage", "scientist"),
    ("Who wrote the first computer program for the Analytical Engine?", "Ada Lovelace", "scientist"),
    ("Who discovered the electron?", "Thomson", "scientist"),
    ("Who discovered the neutron?", "James Chadwick", "scientist"),
    ("Who stated the uncertainty principle?", "Heisenberg", "scientist"),
    ("Who invented the cotton gin?", "Eli Whitney", "scientist"),
    ("Who invented the lightning rod?", "Benjamin Franklin", "scientist"),
    ("Who invented the raised-dot writing system for blind people?", "Louis Braille", "scientist"),
    ("Who wrote A Brief History of Time?", "Stephen Hawking", "scientist"),
    ("Who discovered the laws of inheritance by breeding pea plants?", "Gregor Mendel", "scientist"),
    ("Who wrote Romeo and Juliet?", "Shakespeare", "author"),
    ("Who wrote Hamlet?", "Shakespeare", "author"),
    ("Who wrote Macbeth?", "Shakespeare", "author"),
    ("Who wrote the Harry Potter books?", "J.K. Rowling", "author"),
    ("Who wrote Pride and Prejudice?", "Jane Austen", "author"),
    ("Who wrote Sense and Sensibility?", "Jane Austen", "author"),
    ("Who wrote the novel 1984?", "George Orwell", "author"),
    ("Who wrote Animal Farm?", "George Orwell", "author"),
    ("Who wrote Oliver Twist?", "Charles Dickens", "author"),
    ("Who wrote A Christmas Carol?", "Charles Dickens", "author"),
    ("Who wrote Great Expectations?", "Charles Dickens", "author"),
    ("Who wrote War and Peace?", "Tolstoy", "author"),
    ("Who wrote Anna Karenina?", "Tolstoy", "author"),
    ("Who wrote Crime and Punishment?", "Dostoevsky", "author"),
    ("Who wrote Don Quixote?", "Cervantes", "author"),
    ("Who wrote the Odyssey?", "Homer", "author"),
    ("Who wrote the Divine Comedy?", "Dante", "author"),
    ("Who wrote Moby-Dick?", "Herman Melville", "author"),
    ("Who wrote The Adventures of Tom Sawyer?", "Mark Twain", "author"),
    ("Who wrote The Old Man and the Sea?", "Ernest Hemingway", "author"),
    ("Who wrote The Great Gatsby?", "Fitzgerald", "author"),
    ("Who wrote To Kill a Mockingbird?", "Harper Lee", "author"),
    ("Who wrote Frankenstein?", "Mary Shelley", "author"),
    ("Who wrote Dracula?", "Bram Stoker", "author"),
    ("Who wrote Alice's Adventures in Wonderland?", "Lewis Carroll", "author"),
    ("Who wrote The Hobbit?", "Tolkien", "author"),
    ("Who wrote The Lord of the Rings?", "Tolkien", "author"),
    ("Who wrote The Jungle Book?", "Rudyard Kipling", "author"),
    ("Who wrote Treasure Island?", "Robert Louis Stevenson", "author"),
    ("Who wrote Robinson Crusoe?", "Daniel Defoe", "author"),
    ("Who wrote Gulliver's Travels?", "Jonathan Swift", "author"),
    ("Who wrote Les Miserables?", "Victor Hugo", "author"),
    ("Who wrote The Little Prince?", "Saint-Exupery", "author"),
    ("Who wrote Faust?", "Goethe", "author"),
    ("Who wrote The Metamorphosis?", "Kafka", "author"),
    ("Who wrote the poem The Raven?", "Edgar Allan Poe", "author"),
    ("Who wrote Jane Eyre?", "Charlotte Bronte", "author"),
    ("Who wrote Wuthering Heights?", "Emily Bronte", "author"),
    ("Who wrote The Canterbury Tales?", "Chaucer", "author"),
    ("Who wrote Paradise Lost?", "John Milton", "author"),
    ("Who wrote Charlie and the Chocolate Factory?", "Roald Dahl", "author"),
    ("Who wrote Peter Pan?", "J. M. Barrie", "author"),
    ("Who created the detective Sherlock Holmes?", "Arthur Conan Doyle", "author"),
    ("Who wrote Around the World in Eighty Days?", "Jules Verne", "author"),
    ("Who wrote The Cat in the Hat?", "Dr. Seuss", "author"),
    ("Who wrote Winnie-the-Pooh?", "A. A. Milne", "author"),
    ("Who wrote The Prince in 1513?", "Machiavelli", "author"),
    ("Who wrote the Republic, the dialogue about justice?", "Plato", "author"),
    ("Who wrote Of Mice and Men?", "John Steinbeck", "author"),
    ("Who wrote Lord of the Flies?", "William Golding", "author"),
    ("Who wrote Brave New World?", "Aldous Huxley", "author"),
    ("Who wrote Fahrenheit 451?", "Ray Bradbury", "author"),
    ("Who wrote The Catcher in the Rye?", "Salinger", "author"),
    ("Who wrote One Hundred Years of Solitude?", "Gabriel Garcia Marquez", "author"),
    ("Who wrote The Picture of Dorian Gray?", "Oscar Wilde", "author"),
    ("Who wrote the play A Doll's House?", "Henrik Ibsen", "author"),
    ("Who wrote the play Death of a Salesman?", "Arthur Miller", "author"),
    ("Who wrote the play Waiting for Godot?", "Samuel Beckett", "author"),
    ("Who wrote The Adventures of Pinocchio?", "Carlo Collodi", "author"),
    ("Who painted the Mona Lisa?", "Leonardo da Vinci", "artist"),
    ("Who painted The Starry Night?", "Van Gogh", "artist"),
    ("Who painted The Last Supper in Milan?", "Leonardo da Vinci", "artist"),
    ("Who painted the ceiling of the Sistine Chapel?", "Michelangelo", "artist"),
    ("Who painted The Scream?", "Edvard Munch", "artist"),
    ("Who painted Guernica?", "Picasso", "artist"),
    ("Who painted The Persistence of Memory with its melting clocks?", "Salvador Dali", "artist"),
    ("Who painted Girl with a Pearl Earring?", "Vermeer", "artist"),
    ("Who painted The Night Watch?", "Rembrandt", "artist"),
    ("Who painted The Birth of Venus?", "Botticelli", "artist"),
    ("Who painted the Water Lilies series?", "Claude Monet", "artist"),
    ("Who painted American Gothic?", "Grant Wood", "artist"),
    ("Who made the Campbell's Soup Cans pictures?", "Andy Warhol", "artist"),
    ("Who sculpted The Thinker?", "Rodin", "artist"),
    ("Who painted The School of Athens?", "Raphael", "artist"),
    ("Who painted Las Meninas?", "Velazquez", "artist"),
    ("Who painted Liberty Leading the People?", "Delacroix", "artist"),
    ("Who made the print The Great Wave off Kanagawa?", "Hokusai", "artist"),
    ("Who painted The Garden of Earthly Delights?", "Hieronymus Bosch", "artist"),
    ("Who painted The Son of Man, the man with an apple in front of his face?", "Magritte", "artist"),
    ("Who composed the Fifth Symphony that begins with four famous notes?", "Beethoven", "composer"),
    ("Who composed the Moonlight Sonata?", "Beethoven", "composer"),
    ("Who composed Fur Elise?", "Beethoven", "composer"),
    ("Who composed the opera The Magic Flute?", "Mozart", "composer"),
    ("Who composed Eine kleine Nachtmusik?", "Mozart", "composer"),
    ("Who composed The Four Seasons?", "Vivaldi", "composer"),
    ("Who composed the ballet Swan Lake?", "Tchaikovsky", "composer"),
    ("Who composed the ballet The Nutcracker?", "Tchaikovsky", "composer"),
    ("Who composed the oratorio Messiah?", "Handel", "composer"),
    ("Who composed the Brandenburg Concertos?", "Bach", "composer"),
    ("Who composed the waltz The Blue Danube?", "Strauss", "composer"),
    ("Who composed the opera Carmen?", "Bizet", "composer"),
    ("Who composed the opera The Barber of Seville?", "Rossini", "composer"),
    ("Who composed the opera Aida?", "Verdi", "composer"),
    ("Who composed the opera Madama Butterfly?", "Puccini", "composer"),
    ("Who composed the Ride of the Valkyries?", "Wagner", "composer"),
    ("Who composed Bolero?", "Ravel", "composer"),
    ("Who composed Clair de Lune?", "Debussy", "composer"),
    ("Who composed The Planets suite?", "Holst", "composer"),
    ("Who composed Rhapsody in Blue?", "Gershwin", "composer"),
    ("Who composed the ballet The Rite of Spring?", "Stravinsky", "composer"),
    ("Who composed the Canon in D?", "Pachelbel", "composer"),
    ("Who composed the New World Symphony?", "Dvorak", "composer"),
    ("Who composed Flight of the Bumblebee?", "Rimsky-Korsakov", "composer"),
    # geography
    ("What is the largest ocean on Earth?", "Pacific", "ocean or sea"),
    ("Which ocean lies between Europe and North America?", "Atlantic", "ocean or sea"),
    ("What is the smallest ocean on Earth?", "Arctic", "ocean or sea"),
    ("Which ocean lies between Africa and Australia?", "Indian", "ocean or sea"),
    ("Which sea lies between Europe and Africa?", "Mediterranean", "ocean or sea"),
    ("Which sea lies between Africa and the Arabian Peninsula?", "Red Sea", "ocean or sea"),
    ("Which very salty lake between Israel and Jordan is the lowest point on land?", "Dead Sea", "ocean or sea"),
    ("What is the largest desert in Africa?", "Sahara", "desert"),
    ("Which desert covers much of Mongolia and northern China?", "Gobi", "desert"),
    ("Which desert in Chile is one of the driest places on Earth?", "Atacama", "desert"),
    ("Which desert covers much of Botswana?", "Kalahari", "desert"),
    ("What is the longest river in Africa?", "Nile", "river"),
    ("What is the longest river in South America?", "Amazon", "river"),
    ("Which river flows through London?", "Thames", "river"),
    ("Which river flows through Paris?", "Seine", "river"),
    ("Which river flows through Rome?", "Tiber", "river"),
    ("Which river flows through Vienna and Budapest?", "Danube", "river"),
    ("What is the longest river in Europe?", "Volga", "river"),
    ("Which holy river in India flows past Varanasi?", "Ganges", "river"),
    ("What is the longest river in China?", "Yangtze", "river"),
    ("Which river flows through Baghdad?", "Tigris", "river"),
    ("Which river forms much of the border between the United States and Mexico?", "Rio Grande", "river"),
    ("What is the tallest mountain in the world?", "Everest", "mountain"),
    ("What is the highest mountain in Africa?", "Kilimanjaro", "mountain"),
    ("What is the highest mountain in Japan?", "Mount Fuji", "mountain"),
    ("Which mountain range contains Mount Everest?", "Himalayas", "mountain"),
    ("Which mountain range runs along the west of South America?", "Andes", "mountain"),
    ("Which mountain range is Mont Blanc in?", "Alps", "mountain"),
    ("Which mountain range separates Europe from Asia?", "Ural", "mountain"),
    ("What is the highest mountain in North America?", "Denali", "mountain"),
    ("Which continent is the coldest?", "Antarctica", "continent"),
    ("What is the largest continent?", "Asia", "continent"),
    ("On which continent is the Sahara desert?", "Africa", "continent"),
    ("On which continent is the Amazon rainforest?", "South America", "continent"),
    ("What is the largest country in the world by area?", "Russia", "country"),
    ("What is the smallest country in the world?", "Vatican City", "country"),
    ("Which European country is shaped like a boot?", "Italy", "country"),
    ("In which country is the Great Barrier Reef?", "Australia", "country"),
    ("In which country are the pyramids of Giza?", "Egypt", "country"),
    ("In which country is the Great Wall?", "China", "country"),
    ("In which country is the Taj Mahal?", "India", "country"),
    ("In which country is Machu Picchu?", "Peru", "country"),
    ("In which country is Stonehenge?", "England", "country"),
    ("In which country is the temple of Angkor Wat?", "Cambodia", "country"),
    ("In which country is the ancient city of Petra?", "Jordan", "country"),
    ("In which country is Mount Rushmore?", "the United States", "country"),
    ("In which country is the Maya city of Chichen Itza?", "Mexico", "country"),
    ("In which country is the red rock Uluru?", "Australia", "country"),
    ("In which country is Mount Kilimanjaro?", "Tanzania", "country"),
    ("In which country are the Galapagos Islands?", "Ecuador", "country"),
    ("In which country is Table Mountain?", "South Africa", "country"),
    ("In which country is Neuschwanstein Castle?", "Germany", "country"),
    ("In which country is the Acropolis?", "Greece", "country"),
    ("In which country did the Olympic Games begin in ancient times?", "Greece", "country"),
    ("Which country is home to the kangaroo?", "Australia", "country"),
    ("Which country gave the Statue of Liberty to the United States?", "France", "country"),
    ("Which is the largest island in the world?", "Greenland", "island"),
    ("On which island is the city of Honolulu?", "Oahu", "island"),
    ("Which Italian island is the largest in the Mediterranean Sea?", "Sicily", "island"),
    ("Which island off the south of India is a country?", "Sri Lanka", "island"),
    ("Which large island off the southeast coast of Africa is a country?", "Madagascar", "island"),
    ("What is the largest lake in Africa?", "Lake Victoria", "lake or waterfall"),
    ("Which waterfalls lie on the border of the United States and Canada?", "Niagara Falls", "lake or waterfall"),
    ("What is the tallest waterfall in the world?", "Angel Falls", "lake or waterfall"),
    ("Which lake in Russia is the deepest in the world?", "Baikal", "lake or waterfall"),
    ("Which canal connects the Atlantic and Pacific oceans?", "Panama Canal", "lake or waterfall"),
    ("Which canal connects the Mediterranean Sea and the Red Sea?", "Suez Canal", "lake or waterfall"),
    ("In which city is the Eiffel Tower?", "Paris", "city"),
    ("In which city is the Colosseum?", "Rome", "city"),
    ("In which city is the Statue of Liberty?", "New York", "city"),
    ("In which city is Big Ben?", "London", "city"),
    ("In which city is the Sagrada Familia?", "Barcelona", "city"),
    ("In which city is the Brandenburg Gate?", "Berlin", "city"),
    ("In which city is Red Square?", "Moscow", "city"),
    ("In which city is the Golden Gate Bridge?", "San Francisco", "city"),
    ("In which city is the famous Opera House with sail-shaped roofs in Australia?", "Sydney", "city"),
    ("In which city is the Christ the Redeemer statue?", "Rio de Janeiro", "city"),
    ("In which city is the Leaning Tower?", "Pisa", "city"),
    ("In which city is the Louvre museum?", "Paris", "city"),
    ("In which city is Times Square?", "New York", "city"),
    ("In which city is the Hagia Sophia?", "Istanbul", "city"),
    ("In which city is the Forbidden City?", "Beijing", "city"),
    ("In which city is the Burj Khalifa?", "Dubai", "city"),
    ("In which city is Buckingham Palace?", "London", "city"),
    ("In which city is the CN Tower?", "Toronto", "city"),
    ("In which city are the Petronas Towers?", "Kuala Lumpur", "city"),
    ("In which city is the Alhambra palace?", "Granada", "city"),
    ("In which city is the Parthenon?", "Athens", "city"),
    ("In which city is the Atomium?", "Brussels", "city"),
    ("In which city is the Hollywood sign?", "Los Angeles", "city"),
    ("In which city is the Space Needle?", "Seattle", "city"),
    ("In which city is the Gateway Arch?", "St. Louis", "city"),
    ("In which city is the Kremlin?", "Moscow", "city"),
    ("In which city is the Prado museum?", "Madrid", "city"),
    ("In which city is St. Mark's Basilica?", "Venice", "city"),
    # more rivers, mountains, seas, years, fields of study, formulas and the body
    ("Which river flows through Cairo?", "Nile", "river"),
    ("Which river flows through Berlin?", "Spree", "river"),
    ("Which river flows through Prague?", "Vltava", "river"),
    ("Which river flows through New Orleans?", "Mississippi", "river"),
    ("Which river flows through Dublin?", "Liffey", "river"),
    ("Which river flows through Florence?", "Arno", "river"),
    ("Which river flows through Lisbon?", "Tagus", "river"),
    ("Which river flows through St. Petersburg?", "Neva", "river"),
    ("Which river flows through Warsaw?", "Vistula", "river"),
    ("Which river flows through Cologne?", "Rhine", "river"),
    ("Which river flows through Washington, D.C.?", "Potomac", "river"),
    ("What is the longest river in the United Kingdom?", "Severn", "river"),
    ("What is the longest river in Australia?", "Murray", "river"),
    ("What is the longest river in France?", "Loire", "river"),
    ("Which river carved the Grand Canyon?", "Colorado", "river"),
    ("What is the highest mountain in South America?", "Aconcagua", "mountain"),
    ("Which volcano destroyed Pompeii?", "Vesuvius", "mountain"),
    ("Which active volcano is on the island of Sicily?", "Etna", "mountain"),
    ("Which pyramid-shaped mountain stands above Zermatt in Switzerland?", "Matterhorn", "mountain"),
    ("What is the highest mountain in the Alps?", "Mont Blanc", "mountain"),
    ("What is the highest mountain in Greece?", "Olympus", "mountain"),
    ("What is the highest mountain in Canada?", "Mount Logan", "mountain"),
    ("Which ocean surrounds Antarctica?", "Southern", "ocean or sea"),
    ("Which sea is the largest inland body of water?", "Caspian", "ocean or sea"),
    ("Which sea lies east of Sweden and west of Estonia?", "Baltic", "ocean or sea"),
    ("Which sea lies between Great Britain and Norway?", "North Sea", "ocean or sea"),
    ("Which sea lies between Italy and the Balkans?", "Adriatic", "ocean or sea"),
    ("Which sea lies north of Turkey?", "Black Sea", "ocean or sea"),
    ("In which ocean is Hawaii?", "Pacific", "ocean or sea"),
    ("In which ocean is Madagascar?", "Indian", "ocean or sea"),
    ("In which year did the Chernobyl disaster happen?", "1986", "year"),
    ("In which year did the American Civil War begin?", "1861", "year"),
    ("In which year did the American Civil War end?", "1865", "year"),
    ("In which year did the Great Fire of London happen?", "1666", "year"),
    ("In which year did Germany reunify?", "1990", "year"),
    ("In which year did the Russian Revolution take place?", "1917", "year"),
    ("In which year did euro notes and coins come into use?", "2002", "year"),
    ("In which year did Queen Elizabeth II die?", "2022", "year"),
    ("In which year did Hong Kong return to China?", "1997", "year"),
    ("In which year did the Wall Street Crash happen?", "1929", "year"),
    ("In which year did Yuri Gagarin fly into space?", "1961", "year"),
    ("In which year did India gain independence?", "1947", "year"),
    ("In which year did the Spanish Armada sail against England?", "1588", "year"),
    ("In which year was the Battle of Waterloo?", "1815", "year"),
    ("In which year did the first iPhone go on sale?", "2007", "year"),
    ("In which year did the Boston Tea Party happen?", "1773", "year"),
    ("In which year did Martin Luther publish his 95 theses?", "1517", "year"),
    ("In which year was the Eiffel Tower completed?", "1889", "year"),
    ("What is the study of the structure of the body called?", "anatomy", "field of study"),
    ("What is the study of earthquakes called?", "seismology", "field of study"),
    ("What is the study of the universe as a whole called?", "cosmology", "field of study"),
    ("What is the study of language called?", "linguistics", "field of study"),
    ("What is the study of human societies called?", "sociology", "field of study"),
    ("What is the study of the oceans called?", "oceanography", "field of study"),
    ("What is the study of birds called?", "ornithology", "field of study"),
    ("What is the study of fungi called?", "mycology", "field of study"),
    ("What is the study of genes and heredity called?", "genetics", "field of study"),
    ("What is the study of money, trade and markets called?", "economics", "field of study"),
    ("What is the study of the heart called?", "cardiology", "field of study"),
    ("What is the study of the skin and its diseases called?", "dermatology", "field of study"),
    ("What is the study of the nervous system called?", "neurology", "field of study"),
    ("What is the chemical formula of ammonia?", "NH3", "formula"),
    ("What is the chemical formula of hydrochloric acid?", "HCl", "formula"),
    ("What is the chemical formula of sulfuric acid?", "H2SO4", "formula"),
    ("What is the chemical formula of glucose?", "C6H12O6", "formula"),
    ("What is the chemical formula of carbon monoxide?", "CO", "formula"),
    ("What is the chemical formula of hydrogen peroxide?", "H2O2", "formula"),
    ("What is the chemical formula of calcium carbonate?", "CaCO3", "formula"),
    ("What is the chemical formula of sodium hydroxide?", "NaOH", "formula"),
    ("What is the chemical formula of sulfur dioxide?", "SO2", "formula"),
    ("What is the chemical formula of nitrogen dioxide?", "NO2", "formula"),
    ("What is the chemical formula of silicon dioxide?", "SiO2", "formula"),
    ("What is the chemical formula of propane?", "C3H8", "formula"),
    ("What is the chemical formula of potassium chloride?", "KCl", "formula"),
    ("Which organ produces insulin?", "pancreas", "body"),
    ("Which organ produces bile?", "liver", "body"),
    ("In which organ is food mixed with acid after swallowing?", "stomach", "body"),
    ("What tube carries food from the mouth to the stomach?", "esophagus", "body"),
    ("What is the collarbone's scientific name?", "clavicle", "body"),
    ("What are the bones of the spine called?", "vertebrae", "body"),
    ("What are the bones that protect the lungs and heart called?", "ribs", "body"),
    ("Which body part contains the cornea and the retina?", "eye", "body"),
    ("What red liquid carries oxygen around the body?", "blood", "body"),
    ("What tissue connects muscles to bones?", "tendons", "body"),
    ("What is the body's largest artery?", "aorta", "body"),
    ("Which gland in the neck makes hormones that control metabolism?", "thyroid", "body"),
    # sport, music, food, jobs
    ("What sport is played at Wimbledon?", "tennis", "sport"),
    ("In which sport do you score a touchdown?", "American football", "sport"),
    ("In which sport do you hit a home run?", "baseball", "sport"),
    ("In which sport do you make a slam dunk?", "basketball", "sport"),
    ("In which sport do you hit a hole in one?", "golf", "sport"),
    ("In which game do you say checkmate?", "chess", "sport"),
    ("In which sport is the Tour de France race?", "cycling", "sport"),
    ("In which sport do you try to win the Stanley Cup?", "ice hockey", "sport"),
    ("In which sport do you hit a shuttlecock over a net?", "badminton", "sport"),
    ("In which sport do you bowl a ball at a wicket?", "cricket", "sport"),
    ("In which sport do you knock down ten pins with a ball?", "bowling", "sport"),
    ("In which pub game do players throw small arrows at a round board?", "darts", "sport"),
    ("In which sport does a team try to win the Super Bowl?", "American football", "sport"),
    ("In which sport do players use a puck?", "ice hockey", "sport"),
    ("In which sport do you score a try and form a scrum?", "rugby", "sport"),
    ("In which sport can you win by a knockout?", "boxing", "sport"),
    ("In which sport do athletes compete on the pommel horse and the rings?", "gymnastics", "sport"),
    ("What instrument has 88 keys?", "piano", "instrument"),
    ("Which string instrument is held under the chin and played with a bow?", "violin", "instrument"),
    ("Which brass instrument has a slide?", "trombone", "instrument"),
    ("Which woodwind instrument is held sideways and played by blowing across a hole?", "flute", "instrument"),
    ("Which large string instrument is plucked and has a triangular frame?", "harp", "instrument"),
    ("What is the largest bowed string instrument in the orchestra?", "double bass", "instrument"),
    ("Which instrument did Louis Armstrong famously play?", "trumpet", "instrument"),
    ("Which Scottish instrument has a bag and pipes?", "bagpipes", "instrument"),
    ("What is the main ingredient of guacamole?", "avocado", "food"),
    ("What is the main ingredient of bread?", "flour", "food"),
    ("What is the main ingredient of hummus?", "chickpeas", "food"),
    ("What beans is tofu made from?", "soybeans", "food"),
    ("What fruit are raisins made from?", "grapes", "food"),
    ("What fruit are prunes made from?", "plums", "food"),
    ("What is cheese made from?", "milk", "food"),
    ("What fruit is cider made from?", "apples", "food"),
    ("What is the main ingredient of ketchup?", "tomatoes", "food"),
    ("What herb is the main ingredient of pesto?", "basil", "food"),
    ("What nut is marzipan made from?", "almonds", "food"),
    ("What grain is used to make risotto?", "rice", "food"),
    ("What vegetable is sauerkraut made from?", "cabbage", "food"),
    ("What vegetable are pickles usually made from?", "cucumbers", "food"),
    ("What vegetable are French fries made from?", "potatoes", "food"),
    ("What are omelettes made from?", "eggs", "food"),
    ("What do you call a person who treats sick animals?", "veterinarian", "profession"),
    ("What do you call a doctor who treats teeth?", "dentist", "profession"),
    ("What do you call a person who flies an airplane?", "pilot", "profession"),
    ("What do you call a person who fixes water pipes?", "plumber", "profession"),
    ("What do you call a person who bakes bread?", "baker", "profession"),
    ("What do you call a person who designs buildings?", "architect", "profession"),
    ("What do you call a person who works in a library?", "librarian", "profession"),
    ("What do you call a person who puts out fires?", "firefighter", "profession"),
    ("What do you call a person who sells meat?", "butcher", "profession"),
    ("What do you call a person who grows crops and raises animals?", "farmer", "profession"),
    ("What do you call a person who repairs cars?", "mechanic", "profession"),
    ("What do you call a person who travels into space?", "astronaut", "profession"),
    ("What do you call a person who sells flowers?", "florist", "profession"),
    ("What do you call a person who acts in plays and films?", "actor", "profession"),
    ("What do you call a person who makes things out of wood?", "carpenter", "profession"),
    ("What do you call a person who looks after a flock of sheep?", "shepherd", "profession"),
    ("What do you call a person who cares for patients in a hospital alongside doctors?", "nurse", "profession"),
    ("What do you call a person who installs and repairs electrical wiring?", "electrician", "profession"),
    # words and the rest
    ("What is the last letter of the English alphabet?", "Z", "letter"),
    ("What is the first letter of the Greek alphabet?", "alpha", "letter"),
    ("What is the last letter of the Greek alphabet?", "omega", "letter"),
    ("Which Greek letter is used for the ratio of a circle's circumference to its diameter?", "pi", "letter"),
    ("What is the name of the toy with 6 colored faces that you twist?", "Rubik's Cube", "toy or game"),
    ("Which board game is about buying streets and building hotels?", "Monopoly", "toy or game"),
    ("Which word game has players make words from letter tiles on a board?", "Scrabble", "toy or game"),
    ("Which Danish toy is made of plastic bricks that click together?", "Lego", "toy or game"),
    ("Which puzzle has a 9 by 9 grid filled with the digits 1 to 9?", "Sudoku", "toy or game"),
    ("What is the comparative form of good?", "better", "comparative"),
    ("What is the superlative form of good?", "best", "superlative"),
    ("What is the comparative form of bad?", "worse", "comparative"),
    ("What is the superlative form of bad?", "worst", "superlative"),
    ("What is the superlative form of many?", "most", "superlative"),
]

# Answers that are right as well as the reference, per question (never offered as distractors).
ALSO_RIGHT = {
    "Which organ do humans use to breathe?": ["nose", "diaphragm"],
    "Which muscle under the lungs helps us breathe?": ["lungs"],
    "How many days are in a normal year that is not a leap year?": ["366"],
    "How many days are in a leap year?": ["365"],
    "What color is a flamingo?": ["orange"],
    "What color is a pumpkin?": ["yellow", "green", "white"],
    "What color is a carrot?": ["yellow", "purple", "white"],
    "What color is a lemon?": ["green"],
    "What color is a ripe tomato?": ["yellow", "orange"],
    "What body part do humans use to taste?": ["nose"],
    "What animal says squeak?": ["bat", "rat"],
    "What are omelettes made from?": ["milk"],
    "What tissue connects muscles to bones?": ["ligaments"],
    "Which ocean surrounds Antarctica?": ["Pacific", "Atlantic", "Indian"],
    "Which organ produces bile?": ["gallbladder"],
    "What is the study of the structure of the body called?": ["biology"],
    "What is the study of birds called?": ["zoology", "biology"],
    "What is the study of fungi called?": ["biology", "botany"],
    "What is the study of genes and heredity called?": ["biology"],
    "What is the study of the universe as a whole called?": ["astronomy", "physics"],
    "What is the study of earthquakes called?": ["geology"],
    "What is the study of the oceans called?": ["geography"],
    "What is the study of the past called?": ["archaeology"],
    "What animal is known for carrying its house on its back?": ["turtle", "tortoise"],
    "What is the fastest bird in a dive?": ["eagle"],
    "Which flightless bird lives in Antarctica?": ["ostrich", "emu"],
    "What is the largest bird in the world?": ["emu"],
    "Which bird is known for copying human speech?": ["crow", "raven"],
    "In which country is Stonehenge?": ["the United Kingdom"],
    "In which city is the Statue of Liberty?": ["Paris"],
    "Which season comes after summer?": ["fall"],
    "What do you call an animal that feeds on dead animals?": ["carnivore"],
    "What gas do humans breathe out?": ["oxygen", "nitrogen"],
    "What gas do plants release during photosynthesis?": ["carbon dioxide"],
    "What part of a plant does photosynthesis mostly take place in?": ["stems"],
    "What is the study of maps and the Earth's surface called?": ["geology", "cartography"],
    "What is the study of rocks and the Earth called?": ["geography"],
    "What is the study of animals called?": ["biology"],
    "What is the study of plants called?": ["biology"],
    "What is the study of insects called?": ["biology", "zoology"],
    "What is the study of fossils called?": ["geology", "biology"],
    "What is the study of stars and planets called?": ["physics"],
    "What do you call a person who makes things out of wood?": ["joiner"],
    "What is the main ingredient of bread?": ["wheat"],
}

# Answers that mean the same (or are near enough to confuse); one never serves as a distractor for the other.
SYNONYMS = [
    {"small", "little", "tiny", "short"}, {"sad", "unhappy"}, {"closed", "shut", "close"}, {"old", "aged"},
    {"cold", "cool", "chilly"}, {"hot", "warm"}, {"bad", "evil", "wrong"}, {"good", "right", "kind"},
    {"fast", "quick"}, {"slow", "late"}, {"quiet", "silent"}, {"dangerous", "unsafe"}, {"safe", "secure"},
    {"end", "finish", "last", "stop"}, {"lose", "lost"}, {"leave", "depart", "departure"},
    {"gray", "grey"}, {"Slovenian", "Slovene"}, {"Persian", "Farsi"}, {"Bengali", "Bangla"}, {"ruble",
    "rouble"}, {"krona", "krone"},
    {"riyal", "rial"}, {"autumn", "fall"}, {"puppy", "pup"}, {"kitten", "kit"}, {"cub", "pup"}, {"foal",
    "colt", "filly"},
    {"colony", "swarm", "hive"}, {"school", "shoal", "pod"}, {"heart", "chest"}, {"ears", "ear"}, {"Sun",
    "star"}, {"Moon", "satellite"},
    {"veterinarian", "vet"}, {"firefighter", "fireman"}, {"bee", "wasp"}, {"tiger", "lion"},
    {"elephant", "blue whale"}, {"ice hockey", "hockey"}, {"American football", "football", "rugby"},
    {"almonds", "nuts"}, {"flour", "wheat"}, {"grapes", "wine"}, {"bowling", "cricket"},
    {"cucumbers", "gherkins"}, {"defeat", "failure"},
    {"success", "victory"}, {"rough", "coarse"}, {"minor", "junior", "inferior"}, {"major", "senior", "superior"},
    {"reject", "refuse"}, {"exit", "leave"}, {"lower", "below", "under", "down", "bottom"},
    {"upper", "above", "over", "up", "top"}, {"outside", "outer", "exterior", "external", "out", "outdoor"},
    {"inside", "inner", "interior", "internal", "in", "indoor"}, {"backward", "back"}, {"downhill", "downstairs"},
    {"uphill", "upstairs"}, {"after", "later", "late"}, {"before", "early", "first"}, {"never", "nothing",
    "nobody", "no"},
    {"always", "everything", "everybody", "yes"}, {"minimum", "minus", "negative", "decrease", "subtract"},
    {"maximum", "plus", "positive", "increase", "add"}, {"sink", "descend", "down"}, {"float", "ascend", "rise"},
    {"dusk", "sunset", "night", "evening"}, {"dawn", "sunrise", "day", "morning"}, {"exhale", "export",
    "output", "exit"},
    {"inhale", "import", "input", "entrance"}, {"dead", "mortal"}, {"alive", "immortal", "awake"},
    {"asleep", "dead"}, {"poor", "cheap"}, {"rich", "expensive"}, {"hell", "villain", "enemy", "war", "hate"},
    {"heaven", "hero", "friend", "peace", "love"}, {"rough", "uneven"}, {"weak", "thin"}, {"strong", "thick"},
    {"deep", "low"}, {"shallow", "high"}, {"narrow", "thin", "tight"}, {"wide", "loose", "thick"},
    {"private", "secret", "internal"}, {"public", "external"}, {"urban", "city"}, {"rural", "country"},
    {"modern", "new"}, {"ancient", "old"}, {"far", "distant"},
    {"stand", "rise"}, {"go", "leave"}, {"dirty", "unclean"}, {"honest", "fair"}, {"dishonest", "unfair"},
]


# --------------------------------------------------------------------------- all facts


def _article(word: str) -> str:
    return "an" if word[0].lower() in "aeiou" else "a"


def _one_way(pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Opposite pairs asked in one direction only ("hot"→"cold" but not "cold"→"hot"): one fact, one question."""
    seen, out = set(), []
    for word, answer in pairs:
        key = frozenset((word, answer))
        if key not in seen:
            seen.add(key)
            out.append((word, answer))
    return out


def facts() -> list[tuple[str, str, str]]:
    """Every (question, answer, category), each question once."""
    out = [(f"What is the capital of {c}?", a, "capital") for c, a in CAPITALS]
    out += [(f"On which continent is {c}?", a, "continent") for c, a in CONTINENTS]
    out += [(f"What language is mainly spoken in {c}?", a, "language") for c, a in LANGUAGES]
    out += [(f"What is the currency of {c}?", a, "currency") for c, a in CURRENCIES]
    out += [(f"In which country is the city of {city}?", c, "country") for city, c in CITIES]
    out += [(f"What is the chemical symbol for {e}?", a, "element symbol") for e, a in ELEMENTS]
    out += [(f"What is the opposite of {w}?", a, "opposite") for w, a in _one_way(OPPOSITES)]
    out += [(f"What is the plural of {w}?", a, "plural") for w, a in PLURALS]
    out += [(f"What is the past tense of {w}?", a, "past tense") for w, a in PAST_TENSES]
    out += [(f"What is the past participle of {w}?", a, "past participle") for w, a in PARTICIPLES]
    out += [(f"What is the capital of {s}?", a, "state capital") for s, a in STATE_CAPITALS]
    out += [(f"What is the comparative form of {w}?", c, "comparative") for w, c, _ in COMPARISONS]
    out += [(f"What is the superlative form of {w}?", s, "superlative") for w, _, s in COMPARISONS]
    out += [(f"What is the female form of {w}?", a, "female form") for w, a in FEMALE_FORMS]
    out += [(f"What is the home of {_article(x)} {x} called?", a, "animal home") for x, a in ANIMAL_HOMES]
    out += [(f"What is a baby {x} called?", a, "baby animal") for x, a in BABY_ANIMALS]
    out += [(f"What kind of animal is {_article(x)} {x}?", a, "animal class") for x, a in ANIMAL_CLASSES]
    out += [(f"What is a group of {x} called?", a, "animal group") for x, a in ANIMAL_GROUPS]
    out += [(f"What animal says {x}?", a, "animal") for x, a in ANIMAL_SOUNDS]
    out += GENERAL
    questions = [q for q, _, _ in out]
    duplicates = sorted({q for q in questions if questions.count(q) > 1})
    if duplicates:
        raise ValueError(f"questions asked twice: {duplicates}")
    return out


def also_right() -> dict[str, list[str]]:
    """Per question, answers that are right too (never offered as distractors)."""
    out = {f"What language is mainly spoken in {c}?": a for c, a in LANGUAGES_ALSO.items()}
    out.update({f"In which country is the city of {c}?": a for c, a in CITY_NAMESAKES.items()})
    out.update({f"What is a group of {x} called?": a for x, a in ANIMAL_GROUPS_ALSO.items()})
    out.update(ALSO_RIGHT)
    return out
