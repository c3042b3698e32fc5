package sample

import (
	"fmt"
	"strings"
	"unicode"
)

// A locale is the raw material of one language: people's names, schools,
// addresses. The names are common ones, chosen so that every script the
// product must carry unchanged appears: Latin with diacritics (French,
// German, Polish, Turkish), Greek, Cyrillic, CJK and Arabic.
//
// Name lists are comma-separated. An entry is either a name in Latin script,
// folded to ASCII for logins by foldLatin, or "native:latin" giving the
// romanisation for other scripts. A surname with a feminine form is
// "masculine/feminine" (also in the romanisation).
type localeSource struct {
	lang         string // the test takers' language code
	male, female string
	last         string
	institutions string
	room         string // the word for an exam room, before its number
	streets      string
	cities       string
	address      string // format: %[1]s street, %[2]d number, %[3]s city
	building     string // format of a building prefix: %s is a letter
}

var localeSources = []localeSource{
	{
		lang:         "fr",
		male:         "Jean, Luc, Théo, Hugo, Mathéo, Jérôme, Rémi, Loïc, François, Gaël, Hervé, Noël, Benoît, Célestin, Étienne, Raphaël, Anatole, Aurélien",
		female:       "Camille, Léa, Chloé, Inès, Maëlle, Océane, Élodie, Héloïse, Anaïs, Clémence, Françoise, Gaëlle, Mélanie, Noémie, Amélie, Béatrice, Cécile, Zoé",
		last:         "Dupont, Lefèvre, Moreau, Girard, Fournier, Mercier, Chevalier, François, Garçon, Rousseau, Lemaître, Boucher, Gauthier, Ménard, Bézier, Lécuyer, Brûlé, Faure, Perrin, Barbier, D'Amboise, Saint-Exupéry, Leroy, Renaud",
		institutions: "Lycée Émile Zola, Lycée Victor Hugo, Collège Françoise Dolto, Lycée Marie Curie, Lycée Gustave Flaubert, Collège Jean Moulin, Lycée Hélène Boucher, Centre d'examens de Créteil",
		room:         "Salle",
		streets:      "rue Émile Zola, avenue de la République, boulevard Saint-Germain, place de l'Église, rue du Général-Leclerc, allée des Tilleuls",
		cities:       "75011 Paris, 69003 Lyon, 13001 Marseille, 31000 Toulouse, 59000 Lille, 67000 Strasbourg",
		address:      "%[2]d %[1]s, %[3]s",
		building:     `Bâtiment "%s", `,
	},
	{
		lang:         "de",
		male:         "Jürgen, Jörg, Lukas, Maximilian, Björn, Günther, Sören, Felix, Jonas, Matthias, Uwe, Tobias, Florian, Stefan, Ludwig, Till, Moritz, Götz",
		female:       "Anna, Lena, Käthe, Hannah, Sophie, Jana, Mareike, Ursula, Anke, Franziska, Änne, Lotte, Marlene, Sabine, Katharina, Birgit, Jördis, Gundula",
		last:         "Müller, Schäfer, Schröder, Weiß, Groß, Krämer, Köhler, Böhm, Fuchs, Hoffmann, Bäcker, Günther, Schmidt, Wagner, Becker, Koch, Richter, Hübner, Jäger, Wölfel, Zöllner, Strauß, Meißner, Lehmann",
		institutions: "Goethe-Gymnasium, Albert-Einstein-Gymnasium, Gesamtschule Mülheim, Sophie-Scholl-Schule, Humboldt-Gymnasium, Berufskolleg Köln-Süd, Friedrich-Schiller-Gymnasium, Realschule Am Türmchen",
		room:         "Raum",
		streets:      "Hauptstraße, Bahnhofstraße, Schloßallee, Gartenweg, Königstraße, Am Mühlbach",
		cities:       "10115 Berlin, 50667 Köln, 80331 München, 20095 Hamburg, 01067 Dresden, 70173 Stuttgart",
		address:      "%[1]s %[2]d, %[3]s",
		building:     `Haus "%s", `,
	},
	{
		lang:         "pl",
		male:         "Łukasz, Paweł, Michał, Piotr, Krzysztof, Tomasz, Grzegorz, Jakub, Mikołaj, Wojciech, Bartłomiej, Stanisław, Zbigniew, Jędrzej, Maciej, Kacper",
		female:       "Agnieszka, Małgorzata, Katarzyna, Zofia, Joanna, Magdalena, Jadwiga, Bożena, Grażyna, Łucja, Aleksandra, Ewa, Urszula, Żaneta, Halina, Jolanta",
		last:         "Kowalski/Kowalska, Wiśniewski/Wiśniewska, Wójcik, Kowalczyk, Kamiński/Kamińska, Lewandowski/Lewandowska, Zieliński/Zielińska, Szymański/Szymańska, Woźniak, Dąbrowski/Dąbrowska, Kozłowski/Kozłowska, Jankowski/Jankowska, Mazur, Krawczyk, Nowak, Żak, Łuczak, Stępień, Wróbel, Pietrzak, Sikora, Ślązak, Bąk, Król, Górski/Górska",
		institutions: "Liceum Ogólnokształcące im. Mikołaja Kopernika, Szkoła Podstawowa nr 12 w Łodzi, Zespół Szkół Łączności, Politechnika Wrocławska, Liceum im. Marii Skłodowskiej-Curie, Technikum nr 3 w Gdańsku",
		room:         "Sala",
		streets:      "ul. Żeromskiego, ul. Piłsudskiego, al. Jerozolimskie, ul. Świętokrzyska, ul. Łąkowa",
		cities:       "00-001 Warszawa, 30-001 Kraków, 90-001 Łódź, 80-001 Gdańsk, 50-001 Wrocław",
		address:      "%[1]s %[2]d, %[3]s",
		building:     `Budynek "%s", `,
	},
	{
		lang:         "tr",
		male:         "Mehmet, Mustafa, Ahmet, Ali, Hüseyin, Hasan, İbrahim, İsmail, Osman, Yusuf, Murat, Ömer, Barış, Çağrı, Doğan, Emre, Gökhan, Şükrü, Uğur, Ilgaz",
		female:       "Ayşe, Fatma, Emine, Hatice, Zeynep, Elif, Şeyma, Gülşen, Özlem, Büşra, Çiğdem, Ece, Merve, Nazlı, Sıla, Işıl, Defne, Irmak",
		last:         "Yılmaz, Kaya, Demir, Şahin, Çelik, Yıldız, Yıldırım, Öztürk, Aydın, Özdemir, Arslan, Doğan, Kılıç, Aslan, Çetin, Kara, Koç, Kurt, Özkan, Şimşek, Ağaoğlu, Güneş, Akgündüz, Uğurlu",
		institutions: "Kadıköy Anadolu Lisesi, Galatasaray Lisesi, İzmir Fen Lisesi, Ankara Atatürk Lisesi, Boğaziçi Üniversitesi, Bursa Çınar Koleji",
		room:         "Derslik",
		streets:      "Atatürk Caddesi, İstiklal Caddesi, Gül Sokak, Çiçek Sokağı, Bağdat Caddesi",
		cities:       "34710 Kadıköy/İstanbul, 06420 Çankaya/Ankara, 35220 Konak/İzmir, 16010 Osmangazi/Bursa",
		address:      "%[1]s No: %[2]d, %[3]s",
		building:     `"%s" Blok, `,
	},
	{
		lang:         "el",
		male:         "Γιώργος:giorgos, Δημήτρης:dimitris, Νίκος:nikos, Κωνσταντίνος:konstantinos, Γιάννης:giannis, Παναγιώτης:panagiotis, Χρήστος:christos, Βασίλης:vasilis, Αθανάσιος:athanasios, Μιχάλης:michalis, Σπύρος:spyros, Ευάγγελος:evangelos, Θεόδωρος:theodoros, Αλέξανδρος:alexandros, Στέφανος:stefanos, Άγγελος:angelos",
		female:       "Μαρία:maria, Ελένη:eleni, Αικατερίνη:aikaterini, Βασιλική:vasiliki, Σοφία:sofia, Αγγελική:angeliki, Γεωργία:georgia, Δήμητρα:dimitra, Κωνσταντίνα:konstantina, Ευαγγελία:evangelia, Ειρήνη:eirini, Χριστίνα:christina, Αναστασία:anastasia, Φωτεινή:foteini, Ιωάννα:ioanna, Δέσποινα:despoina",
		last:         "Παπαδόπουλος/Παπαδοπούλου:papadopoulos/papadopoulou, Βλάχος/Βλάχου:vlachos/vlachou, Αγγελόπουλος/Αγγελοπούλου:angelopoulos/angelopoulou, Νικολάου:nikolaou, Γεωργίου:georgiou, Παπαδάκης/Παπαδάκη:papadakis/papadaki, Οικονόμου:oikonomou, Μακρής/Μακρή:makris/makri, Αντωνίου:antoniou, Παπαγεωργίου:papageorgiou, Δημητρίου:dimitriou, Ιωάννου:ioannou, Κωνσταντίνου:konstantinou, Χριστοδούλου:christodoulou, Καραγιάννης/Καραγιάννη:karagiannis/karagianni, Μαυρίδης/Μαυρίδου:mavridis/mavridou, Πετρόπουλος/Πετροπούλου:petropoulos/petropoulou, Αλεξίου:alexiou, Ζαχαρίου:zachariou, Σταυρόπουλος/Σταυροπούλου:stavropoulos/stavropoulou",
		institutions: "Πειραματικό Λύκειο Αθηνών, 1ο Γενικό Λύκειο Θεσσαλονίκης, Βαρβάκειο Πρότυπο Λύκειο, Γυμνάσιο Πάτρας, Ζάνειο Λύκειο Πειραιά",
		room:         "Αίθουσα",
		streets:      "Οδός Ερμού, Λεωφόρος Αλεξάνδρας, Οδός Πανεπιστημίου, Οδός Εγνατία",
		cities:       "105 63 Αθήνα, 546 22 Θεσσαλονίκη, 262 21 Πάτρα, 185 31 Πειραιάς",
		address:      "%[1]s %[2]d, %[3]s",
		building:     `Κτίριο "%s", `,
	},
	{
		lang:         "ru",
		male:         "Александр:aleksandr, Дмитрий:dmitry, Максим:maksim, Сергей:sergey, Андрей:andrey, Алексей:aleksey, Артём:artyom, Илья:ilya, Кирилл:kirill, Михаил:mikhail, Никита:nikita, Матвей:matvey, Роман:roman, Егор:yegor, Иван:ivan, Юрий:yury",
		female:       "Анастасия:anastasia, Мария:maria, Анна:anna, Виктория:viktoria, Екатерина:ekaterina, Наталья:natalya, Ольга:olga, Елена:elena, Дарья:darya, Юлия:yulia, Татьяна:tatyana, Ксения:ksenia, Алёна:alyona, Полина:polina, Софья:sofya, Ирина:irina",
		last:         "Иванов/Иванова:ivanov/ivanova, Смирнов/Смирнова:smirnov/smirnova, Кузнецов/Кузнецова:kuznetsov/kuznetsova, Попов/Попова:popov/popova, Васильев/Васильева:vasilyev/vasilyeva, Петров/Петрова:petrov/petrova, Соколов/Соколова:sokolov/sokolova, Михайлов/Михайлова:mikhailov/mikhailova, Новиков/Новикова:novikov/novikova, Фёдоров/Фёдорова:fyodorov/fyodorova, Морозов/Морозова:morozov/morozova, Волков/Волкова:volkov/volkova, Алексеев/Алексеева:alekseyev/alekseyeva, Лебедев/Лебедева:lebedev/lebedeva, Семёнов/Семёнова:semyonov/semyonova, Егоров/Егорова:yegorov/yegorova, Павлов/Павлова:pavlov/pavlova, Козлов/Козлова:kozlov/kozlova, Степанов/Степанова:stepanov/stepanova, Никитин/Никитина:nikitin/nikitina, Орлов/Орлова:orlov/orlova, Зайцев/Зайцева:zaytsev/zaytseva, Ковальчук:kovalchuk",
		institutions: "Школа № 57, Гимназия № 1514, Лицей «Вторая школа», Физико-математический лицей № 239, Школа № 179, Университетская гимназия",
		room:         "Аудитория",
		streets:      "ул. Тверская, Ленинский проспект, ул. Арбат, Невский проспект",
		cities:       "125009 Москва, 191186 Санкт-Петербург, 630099 Новосибирск, 420111 Казань",
		address:      "%[1]s, д. %[2]d, %[3]s",
		building:     `Корпус "%s", `,
	},
	{
		lang:         "ja",
		male:         "陽翔:haruto, 蓮:ren, 湊:minato, 大翔:hiroto, 悠真:yuma, 陽太:yota, 樹:itsuki, 健太:kenta, 翔太:shota, 大輝:daiki, 拓海:takumi, 颯太:sota, 悠人:yuto, 隆:takashi, 誠:makoto, 浩二:koji",
		female:       "陽葵:himari, 凛:rin, 結菜:yuna, 葵:aoi, 芽依:mei, 紬:tsumugi, さくら:sakura, 美咲:misaki, 愛子:aiko, 由美:yumi, 花子:hanako, 真由美:mayumi, 恵:megumi, 彩:aya, 七海:nanami, 千尋:chihiro",
		last:         "佐藤:sato, 鈴木:suzuki, 高橋:takahashi, 田中:tanaka, 伊藤:ito, 渡辺:watanabe, 山本:yamamoto, 中村:nakamura, 小林:kobayashi, 加藤:kato, 吉田:yoshida, 山田:yamada, 佐々木:sasaki, 山口:yamaguchi, 松本:matsumoto, 井上:inoue, 木村:kimura, 林:hayashi, 斎藤:saito, 清水:shimizu",
		institutions: "東京都立日比谷高等学校, 大阪府立北野高等学校, 京都大学, 札幌南高等学校, 横浜市立南高等学校",
		room:         "教室",
		streets:      "永田町二丁目, 天神橋, 北野白梅町, 南一条西",
		cities:       "〒100-0014 東京都千代田区, 〒530-0041 大阪府大阪市, 〒603-8321 京都府京都市, 〒060-0061 北海道札幌市",
		address:      "%[3]s, %[1]s %[2]d番",
		building:     `"%s"棟, `,
	},
	{
		lang:         "zh",
		male:         "伟:wei, 强:qiang, 磊:lei, 军:jun, 洋:yang, 勇:yong, 杰:jie, 涛:tao, 明:ming, 超:chao, 浩然:haoran, 子轩:zixuan, 宇航:yuhang, 建国:jianguo, 志强:zhiqiang, 俊杰:junjie",
		female:       "芳:fang, 娜:na, 敏:min, 静:jing, 丽:li, 秀英:xiuying, 桂英:guiying, 婷:ting, 雪:xue, 慧:hui, 欣怡:xinyi, 梓涵:zihan, 诗涵:shihan, 雨桐:yutong, 佳怡:jiayi, 晓燕:xiaoyan",
		last:         "王:wang, 李:li, 张:zhang, 刘:liu, 陈:chen, 杨:yang, 黄:huang, 赵:zhao, 吴:wu, 周:zhou, 徐:xu, 孙:sun, 马:ma, 朱:zhu, 胡:hu, 郭:guo, 何:he, 林:lin, 高:gao, 罗:luo, 欧阳:ouyang, 司马:sima",
		institutions: "北京市第四中学, 上海中学, 清华大学附属中学, 南京外国语学校, 广州市执信中学",
		room:         "考场",
		streets:      "长安街, 南京路, 中山路, 人民路",
		cities:       "北京市西城区, 上海市徐汇区, 广州市越秀区, 南京市鼓楼区",
		address:      "%[3]s, %[1]s %[2]d号",
		building:     `"%s"座, `,
	},
	{
		lang:         "ar",
		male:         "محمد:mohamed, أحمد:ahmed, علي:ali, عمر:omar, يوسف:youssef, خالد:khaled, حسن:hassan, إبراهيم:ibrahim, مصطفى:mustafa, كريم:karim, طارق:tarek, سامي:sami, فيصل:faisal, ياسين:yassine, حمزة:hamza, نبيل:nabil",
		female:       "فاطمة:fatima, عائشة:aisha, مريم:maryam, زينب:zainab, نور:nour, ليلى:layla, سلمى:salma, هدى:huda, أمينة:amina, ياسمين:yasmine, رانيا:rania, سارة:sara, خديجة:khadija, دينا:dina, لينا:lina, هالة:hala",
		last:         "العلي:al-ali, الحسن:al-hassan, المصري:al-masri, الخطيب:al-khatib, حداد:haddad, منصور:mansour, النجار:al-najjar, عبد الله:abdallah, الشامي:al-shami, يوسف:youssef, إبراهيم:ibrahim, بن علي:ben-ali, التونسي:al-tounsi, الفاسي:al-fassi, سعيد:said, قاسم:kassem, عيسى:issa, حمدان:hamdan, الزين:al-zein, بوعزيز:bouaziz",
		institutions: "مدرسة الأمل, ثانوية ابن خلدون, جامعة القاهرة, مدرسة النور الدولية, ثانوية الفارابي",
		room:         "قاعة",
		streets:      "شارع الحرية, شارع الجمهورية, شارع النيل, شارع محمد الخامس",
		cities:       "القاهرة, الدار البيضاء, تونس, عمّان",
		address:      "%[2]d %[1]s, %[3]s",
		building:     `مبنى "%s", `,
	},
	{
		lang:         "en",
		male:         "James, Oliver, Jack, Harry, George, Noah, Liam, Ethan, Seán, Ciarán, Eoin, Rhys, Dylan, Connor, Thomas, William",
		female:       "Olivia, Amelia, Isla, Emily, Sophie, Zoë, Siobhán, Aoife, Niamh, Grace, Charlotte, Ella, Ruby, Freya, Renée, Hannah",
		last:         "Smith, Jones, Williams, Brown, Taylor, Davies, Evans, O'Brien, O'Connor, McCarthy, Murphy, Walsh, Wilson, Johnson, Robinson, Wright, Thompson, Hughes, Fitzgerald, Clarke",
		institutions: "St Mary's College, King Edward VI Grammar School, Trinity College Dublin, Riverside Academy, St Patrick's Secondary School, Hillcrest High School",
		room:         "Room",
		streets:      "High Street, Church Road, Station Road, Victoria Street",
		cities:       "London SW1A 1AA, Manchester M1 1AE, Dublin D02 X285, Leeds LS1 4AP",
		address:      "%[2]d %[1]s, %[3]s",
		building:     `Block "%s", `,
	},
}

// name is a name in its own script and its ASCII form for logins.
type name struct{ native, ascii string }

// surname holds both forms of a surname; fem equals masc when the language
// has one form.
type surname struct{ masc, fem name }

type locale struct {
	lang                  string
	male, female          []name
	last                  []surname
	institutions, streets []string
	cities                []string
	room                  string
	address, building     string
}

// locales is localeSources parsed; init panics on a name that cannot be
// folded, so a bad list fails every test at once.
var locales = func() []locale {
	out := make([]locale, len(localeSources))
	for i, s := range localeSources {
		l := locale{
			lang:         s.lang,
			room:         s.room,
			address:      s.address,
			building:     s.building,
			institutions: split(s.institutions),
			streets:      split(s.streets),
			cities:       split(s.cities),
		}
		for _, e := range split(s.male) {
			l.male = append(l.male, parseName(s.lang, e))
		}
		for _, e := range split(s.female) {
			l.female = append(l.female, parseName(s.lang, e))
		}
		for _, e := range split(s.last) {
			l.last = append(l.last, parseSurname(s.lang, e))
		}
		out[i] = l
	}
	return out
}()

func split(list string) []string {
	parts := strings.Split(list, ",")
	for i := range parts {
		parts[i] = strings.TrimSpace(parts[i])
	}
	return parts
}

func parseName(lang, entry string) name {
	native, latin, ok := strings.Cut(entry, ":")
	if !ok {
		latin = native
	}
	return name{native: native, ascii: fold(lang, latin)}
}

func parseSurname(lang, entry string) surname {
	native, latin, ok := strings.Cut(entry, ":")
	if !ok {
		latin = native
	}
	nm, nf, gendered := strings.Cut(native, "/")
	lm, lf, _ := strings.Cut(latin, "/")
	if !gendered {
		nf, lf = nm, lm
	}
	if lf == "" {
		panic(fmt.Sprintf("sample: surname %q has a feminine form but no romanisation of it", entry))
	}
	return surname{
		masc: name{native: nm, ascii: fold(lang, lm)},
		fem:  name{native: nf, ascii: fold(lang, lf)},
	}
}

// latinFold maps the letters with diacritics the lists use to ASCII, by the
// usual convention of each language (Polish ł is l, Turkish ı is i).
var latinFold = map[rune]string{
	'à': "a", 'â': "a", 'á': "a", 'ä': "a", 'ą': "a",
	'ç': "c", 'ć': "c",
	'é': "e", 'è': "e", 'ê': "e", 'ë': "e", 'ę': "e",
	'î': "i", 'ï': "i", 'í': "i", 'ı': "i",
	'ô': "o", 'ö': "o", 'ó': "o",
	'ù': "u", 'û': "u", 'ü': "u", 'ú': "u",
	'ÿ': "y", 'ñ': "n", 'ń': "n",
	'ğ': "g", 'ş': "s", 'ś': "s", 'ł': "l", 'ż': "z", 'ź': "z",
	'ß': "ss", 'œ': "oe", 'æ': "ae",
}

// germanFold overrides latinFold with the German transliteration (Müller is
// mueller, as a German would type it).
var germanFold = map[rune]string{'ä': "ae", 'ö': "oe", 'ü': "ue"}

// fold turns a Latin-script name into the lower-case ASCII used in logins:
// letters only, words joined by '-', apostrophes dropped (O'Brien is
// obrien). It panics on a character it does not know, which only a bad
// name list can cause.
func fold(lang, s string) string {
	var b strings.Builder
	for _, r := range s {
		r = unicode.ToLower(r) // Go maps Turkish İ to i
		switch {
		case 'a' <= r && r <= 'z':
			b.WriteRune(r)
		case r == ' ' || r == '-':
			b.WriteByte('-')
		case r == '\'':
		default:
			if lang == "de" && germanFold[r] != "" {
				b.WriteString(germanFold[r])
			} else if f, ok := latinFold[r]; ok {
				b.WriteString(f)
			} else {
				panic(fmt.Sprintf("sample: no ASCII form for %q in name %q", r, s))
			}
		}
	}
	return b.String()
}
